//! How a user's function is called: its arguments and what it returns.
//!
//! The attribute macros see the signature's syntax, so they pick the wrapper here that
//! fits it (by value or by reference, plain or `Result`); everything else is inferred
//! from the function's type. Generic wrappers keep the macros free of type names,
//! which would otherwise have to resolve inside a generated module.

use std::fmt::Display;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::codec;

/// A step function of one item.
pub trait OneArg: Sync + 'static {
    /// The item type, decoded from the codec.
    type In: DeserializeOwned + 'static;
    /// What the function returns, before [`Output`] unwraps a `Result`.
    type Ret;
    /// Calls the function with an owned item.
    fn call(&self, input: Self::In) -> Self::Ret;
    /// Calls the function with a borrowed item, when it takes one by reference;
    /// lets `is_complete` look at an accumulator without copying it.
    fn call_borrowed(&self, input: &Self::In) -> Option<Self::Ret>;
    /// Decodes an encoded item and calls the function with it.
    fn call_encoded(&self, step: &str, item: &[u8]) -> Result<Self::Ret, String> {
        Ok(self.call(codec::decode(step, item)?))
    }
}

/// A function `fn(T) -> R`. `F` is the function's own (zero-sized) type as the macros
/// build it, so the adapter calls it directly and the compiler may inline it into the
/// loop over a batch; a function pointer, the default, would cost an indirect call per
/// item.
pub struct ByValue<T, R, F = fn(T) -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn(T) -> R>,
}

/// A function `fn(&T) -> R`.
pub struct ByRef<T, R, F = fn(&T) -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn(&T) -> R>,
}

/// A function `fn(&str) -> R`; the item decodes as a `String`.
pub struct ByStr<R, F = fn(&str) -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn(&str) -> R>,
}

/// A function `fn(&[T]) -> R`; the item decodes as a `Vec<T>`.
pub struct BySlice<T, R, F = fn(&[T]) -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn(&[T]) -> R>,
}

/// A function `fn() -> R` (a builder).
pub struct NoArgs<R, F = fn() -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn() -> R>,
}

/// A function `fn(A, V) -> R` (a stateful mapper, reducer or folder).
pub struct TwoArgs<A, V, R, F = fn(A, V) -> R> {
    /// The user's function.
    pub f: F,
    sig: PhantomData<fn(A, V) -> R>,
}

impl<T, R, F: Fn(T) -> R> ByValue<T, R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        ByValue { f, sig: PhantomData }
    }
}

impl<T, R, F: Fn(&T) -> R> ByRef<T, R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        ByRef { f, sig: PhantomData }
    }
}

impl<R, F: Fn(&str) -> R> ByStr<R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        ByStr { f, sig: PhantomData }
    }
}

impl<T, R, F: Fn(&[T]) -> R> BySlice<T, R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        BySlice { f, sig: PhantomData }
    }
}

impl<R, F: Fn() -> R> NoArgs<R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        NoArgs { f, sig: PhantomData }
    }
}

impl<A, V, R, F: Fn(A, V) -> R> TwoArgs<A, V, R, F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        TwoArgs { f, sig: PhantomData }
    }
}

impl<T, R, F> OneArg for ByValue<T, R, F>
where
    T: DeserializeOwned + 'static,
    R: 'static,
    F: Fn(T) -> R + Sync + 'static,
{
    type In = T;
    type Ret = R;
    fn call(&self, input: T) -> R {
        (self.f)(input)
    }
    fn call_borrowed(&self, _input: &T) -> Option<R> {
        None
    }
}

impl<T, R, F> OneArg for ByRef<T, R, F>
where
    T: DeserializeOwned + 'static,
    R: 'static,
    F: Fn(&T) -> R + Sync + 'static,
{
    type In = T;
    type Ret = R;
    fn call(&self, input: T) -> R {
        (self.f)(&input)
    }
    fn call_borrowed(&self, input: &T) -> Option<R> {
        Some((self.f)(input))
    }
}

impl<R, F> OneArg for ByStr<R, F>
where
    R: 'static,
    F: Fn(&str) -> R + Sync + 'static,
{
    type In = String;
    type Ret = R;
    // The text is borrowed straight from the item's bytes: no `String` per item.
    fn call_encoded(&self, step: &str, item: &[u8]) -> Result<R, String> {
        Ok((self.f)(codec::decode_borrowed::<&str>(step, item)?))
    }
    fn call(&self, input: String) -> R {
        (self.f)(&input)
    }
    fn call_borrowed(&self, input: &String) -> Option<R> {
        Some((self.f)(input))
    }
}

impl<T, R, F> OneArg for BySlice<T, R, F>
where
    T: DeserializeOwned + 'static,
    R: 'static,
    F: Fn(&[T]) -> R + Sync + 'static,
{
    type In = Vec<T>;
    type Ret = R;
    fn call(&self, input: Vec<T>) -> R {
        (self.f)(&input)
    }
    fn call_borrowed(&self, input: &Vec<T>) -> Option<R> {
        Some((self.f)(input))
    }
}

/// How a function's return value becomes a result: as is, or unwrapping a `Result`.
pub trait Output<R>: Sync + 'static {
    /// The successful value.
    type Ok;
    /// The value, or the function's error as text.
    fn into_result(returned: R) -> Result<Self::Ok, String>;
}

/// The function returns its value directly; only a panic (a trap) can fail it.
pub struct Returns;

/// The function returns `Result<T, E>`; an `Err` becomes the step's error text.
pub struct ReturnsResult;

impl<T> Output<T> for Returns {
    type Ok = T;
    fn into_result(returned: T) -> Result<T, String> {
        Ok(returned)
    }
}

impl<T, E: Display> Output<Result<T, E>> for ReturnsResult {
    type Ok = T;
    fn into_result(returned: Result<T, E>) -> Result<T, String> {
        returned.map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(n: i64) -> i64 {
        n * 2
    }

    fn is_big(n: &i64) -> bool {
        *n > 10
    }

    #[test]
    fn by_value_cannot_borrow_but_by_ref_can() {
        let by_value = ByValue::new(double);
        let by_ref = ByRef::new(is_big);
        assert_eq!(by_value.call(4), 8);
        assert_eq!(by_value.call_borrowed(&4), None);
        assert!(by_ref.call(11));
        assert_eq!(by_ref.call_borrowed(&3), Some(false));
    }

    fn shout(s: &str) -> String {
        s.to_uppercase()
    }

    fn total(ns: &[i64]) -> i64 {
        ns.iter().sum()
    }

    #[test]
    fn str_and_slice_borrow_from_owned_items() {
        assert_eq!(ByStr::new(shout).call("a".to_string()), "A");
        assert_eq!(BySlice::new(total).call_borrowed(&vec![1, 2]), Some(3));
    }

    #[test]
    fn returns_result_turns_errors_into_text() {
        let parsed: Result<i64, _> = "x1".parse::<i64>();
        let err = <ReturnsResult as Output<_>>::into_result(parsed).unwrap_err();
        assert_eq!(err, "invalid digit found in string");
        assert_eq!(<Returns as Output<i64>>::into_result(5), Ok(5));
    }
}
