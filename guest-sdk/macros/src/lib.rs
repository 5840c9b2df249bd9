//! Attribute macros of `bytewax-guest`; use them through that crate.
//!
//! Each attribute leaves the function as written (so it stays callable and testable) and
//! adds a hidden module of the same name holding the step's `StepDef`. Functions and
//! modules live in different namespaces, so `export_steps!(tokenize)` can find
//! `tokenize::STEP` while `tokenize(...)` still calls the function.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, FnArg, ItemFn, ReturnType, Type};

/// What the attribute of one step kind expects and generates.
struct StepKind {
    attribute: &'static str,
    /// The `StepBody` variant.
    body: &'static str,
    /// The adapter type in `bytewax_guest::adapters`.
    adapter: &'static str,
    /// The signature, for error messages.
    shape: &'static str,
    arity: usize,
    /// Whether the function may return nothing (only `inspect`).
    returns_unit: bool,
}

const fn kind(
    attribute: &'static str,
    body: &'static str,
    adapter: &'static str,
    shape: &'static str,
    arity: usize,
) -> StepKind {
    StepKind {
        attribute,
        body,
        adapter,
        shape,
        arity,
        returns_unit: false,
    }
}

fn expand(kind: &StepKind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let associative = match associative_flag(kind, attr) {
        Ok(flag) => flag,
        Err(err) => return err.to_compile_error().into(),
    };
    let func = parse_macro_input!(item as ItemFn);
    match step_module(kind, &func, associative) {
        Ok(module) => quote! { #func #module }.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote! { #func #err }.into()
        }
    }
}

/// A reducer may be declared `#[reducer(associative)]`; no other argument is taken.
fn associative_flag(kind: &StepKind, attr: TokenStream) -> syn::Result<bool> {
    if attr.is_empty() {
        return Ok(false);
    }
    let attr = proc_macro2::TokenStream::from(attr);
    let allowed = kind.attribute == "reducer";
    match syn::parse2::<syn::Ident>(attr.clone()) {
        Ok(ident) if allowed && ident == "associative" => Ok(true),
        _ => {
            let message = match allowed {
                true => "`#[reducer]` takes no arguments but `associative`".to_string(),
                false => format!("`#[{}]` takes no arguments", kind.attribute),
            };
            Err(syn::Error::new(attr.span(), message))
        }
    }
}

/// An associative reducer folds accumulators into accumulators, so its two arguments and
/// its result (inside a `Result`) must be written as one type.
fn check_associative(sig: &syn::Signature) -> syn::Result<()> {
    let written = |ty: &Type| quote!(#ty).to_string();
    let args: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(written(&typed.ty)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => ok_type(ty).map(written),
        ReturnType::Default => None,
    };
    if args.len() == 2 && args[0] == args[1] && ret.as_deref() == Some(args[0].as_str()) {
        return Ok(());
    }
    Err(syn::Error::new(
        sig.span(),
        "`#[reducer(associative)]` step must take and return one type; expected `fn(A, A) -> A`",
    ))
}

/// The success type of a return type: `T` of `Result<T, E>`, else the type itself.
fn ok_type(ty: &Type) -> Option<&Type> {
    if !is_result(ty) {
        return Some(ty);
    }
    let Type::Path(path) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else { return None };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn step_module(kind: &StepKind, func: &ItemFn, associative: bool) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &func.sig;
    let wrong = |span: Span, why: &str| {
        let message = format!(
            "`#[{}]` step {why}; expected `{}`",
            kind.attribute, kind.shape
        );
        Err(syn::Error::new(span, message))
    };
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return wrong(
            sig.generics.span(),
            "cannot be generic: each step needs concrete types",
        );
    }
    if sig.asyncness.is_some() || sig.constness.is_some() || sig.unsafety.is_some() {
        return wrong(sig.fn_token.span, "must be a plain `fn`");
    }
    if let Some(variadic) = &sig.variadic {
        return wrong(variadic.span(), "cannot be variadic");
    }
    if sig.inputs.len() != kind.arity {
        let count = match kind.arity {
            0 => "no arguments",
            1 => "one argument",
            _ => "two arguments",
        };
        return wrong(sig.inputs.span(), &format!("takes {count}"));
    }
    let mut borrowed = None;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => return wrong(receiver.span(), "cannot take `self`"),
            FnArg::Typed(typed) => {
                if let Type::Reference(reference) = typed.ty.as_ref() {
                    if kind.arity != 1 || reference.mutability.is_some() {
                        return wrong(typed.ty.span(), "takes its arguments by value");
                    }
                    borrowed = Some(borrow_wrapper(&reference.elem));
                }
            }
        }
    }
    let returns_result = match &sig.output {
        ReturnType::Default if !kind.returns_unit => {
            return wrong(sig.span(), "must return a value");
        }
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => is_result(ty),
    };

    if associative {
        check_associative(sig)?;
    }
    let call = match (kind.arity, borrowed) {
        (0, _) => "NoArgs",
        (1, None) => "ByValue",
        (1, Some(wrapper)) => wrapper,
        _ => "TwoArgs",
    };
    let call = format_ident!("{call}");
    let output = format_ident!(
        "{}",
        if returns_result {
            "ReturnsResult"
        } else {
            "Returns"
        }
    );
    let body = format_ident!("{}", kind.body);
    let adapter = format_ident!("{}", kind.adapter);
    let vis = &func.vis;
    let ident = &sig.ident;
    let name = ident.to_string().trim_start_matches("r#").to_string();
    let private = quote! { ::bytewax_guest::__private };
    // Spanned at the signature so a type that does not fit (not serde, wrong return)
    // is reported at the user's function rather than inside the macro.
    let associative = if associative { quote!(true) } else { quote!(false) };
    let step_body = quote_spanned! {sig.span()=>
        #private::StepBody::#body(&#private::#adapter {
            f: #private::#call::new(super::#ident),
            output: #private::#output,
        })
    };
    Ok(quote! {
        #[doc(hidden)]
        #vis mod #ident {
            /// The step that `export_steps!` lists for this function.
            pub const STEP: #private::StepDef = #private::StepDef {
                name: #name,
                body: #step_body,
                associative: #associative,
            };
        }
    })
}

/// The call wrapper for a borrowed argument: `&str` and `&[T]` borrow from the owned
/// `String` and `Vec<T>` an item decodes to; any other `&T` from a decoded `T`.
fn borrow_wrapper(elem: &Type) -> &'static str {
    match elem {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => "ByStr",
        Type::Slice(_) => "BySlice",
        _ => "ByRef",
    }
}

/// Whether the return type is written as some `Result<…>` (`io::Result<T>` included).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Result"),
        Type::Paren(inner) => is_result(&inner.elem),
        _ => false,
    }
}

macro_rules! step_attribute {
    ($(#[$doc:meta])* $name:ident => $kind:expr) => {
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            expand(&$kind, attr, item)
        }
    };
}

step_attribute!(
    /// A `map` step: `fn(T) -> U`, one output per item.
    map => kind("map", "Map", "MapAdapter", "fn(T) -> U", 1));
step_attribute!(
    /// A `flat_map` step: `fn(T) -> Vec<U>` (any `IntoIterator`), zero or more outputs per item.
    flat_map => kind("flat_map", "FlatMap", "FlatMapAdapter", "fn(T) -> Vec<U>", 1));
step_attribute!(
    /// A `filter` step: `fn(&T) -> bool` (or `fn(T) -> bool`), keep the item when true.
    filter => kind("filter", "Filter", "DirectAdapter", "fn(&T) -> bool", 1));
step_attribute!(
    /// A `filter_map` step: `fn(T) -> Option<U>`, an output when `Some`.
    filter_map => kind("filter_map", "FilterMap", "FilterMapAdapter", "fn(T) -> Option<U>", 1));
step_attribute!(
    /// An `inspect` step: `fn(&T)`, sees each item and changes nothing.
    inspect => StepKind { returns_unit: true, ..kind("inspect", "Inspect", "DirectAdapter", "fn(&T)", 1) });
step_attribute!(
    /// A `builder`: `fn() -> S`, the first state of a `stateful_map` or accumulator of a `fold_window`.
    builder => kind("builder", "Builder", "BuilderAdapter", "fn() -> S", 0));
step_attribute!(
    /// A `stateful_map` mapper: `fn(S, V) -> (Option<S>, U)`; `None` forgets the key.
    stateful_mapper => kind("stateful_mapper", "StatefulMap", "StatefulMapAdapter", "fn(S, V) -> (Option<S>, U)", 2));
step_attribute!(
    /// A reducer for `reduce` and `reduce_window`: `fn(A, V) -> A`; the first value is the accumulator.
    reducer => kind("reducer", "Reducer", "FoldAdapter", "fn(A, V) -> A", 2));
step_attribute!(
    /// The completion check of a `reduce`: `fn(&A) -> bool`, emit and forget when true.
    is_complete => kind("is_complete", "IsComplete", "IsCompleteAdapter", "fn(&A) -> bool", 1));
step_attribute!(
    /// A folder for `fold_window`: `fn(A, V) -> A`, starting from a builder's value.
    folder => kind("folder", "Folder", "FoldAdapter", "fn(A, V) -> A", 2));
step_attribute!(
    /// An event-time getter: `fn(&T) -> i64`, milliseconds since the Unix epoch, UTC.
    event_time => kind("event_time", "EventTime", "DirectAdapter", "fn(&T) -> i64", 1));
