//! What passes between two stages of a chain: encoded items, or a `Vec` of the Rust type
//! both stages share.
//!
//! Within one component, when a step produces exactly the type the next step takes
//! (`lower` gives a `String`, `tokenize` takes one), encoding each item only for the next
//! stage to decode it again is pure cost: a copy, a UTF-8 check and an allocation per
//! item, most of a light step's time. So the chain hands such items over as they are.
//! Items still cross the component boundary, and reach steps of another type, encoded.

use std::any::{Any, TypeId};

use serde::Serialize;

use crate::call::OneArg;
use crate::wit::Batch;

/// A chain stage's input or output.
pub enum Lane {
    /// Items in the codec, as the host sends them.
    Encoded(Batch),
    /// A `Vec<T>` of decoded items, where `T` is the type both stages share.
    Typed(Box<dyn Any>),
}

/// The types a producing stage takes and gives, so a chain can tell when the items between
/// two stages need no codec.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LaneTypes {
    /// What the function takes, decoded.
    pub input: TypeId,
    /// What it produces per output item.
    pub output: TypeId,
}

impl LaneTypes {
    /// The types of a function `F` producing items of type `T`.
    pub fn of<F: OneArg, T: 'static>() -> LaneTypes {
        LaneTypes { input: TypeId::of::<F::In>(), output: TypeId::of::<T>() }
    }
}

/// Where a stage's outputs go: onto an encoded batch, or into a typed `Vec`.
pub enum Sink<'a, T> {
    /// Encoded onto the end of a batch.
    Encoded(&'a mut Batch),
    /// Kept as they are.
    Typed(&'a mut Vec<T>),
}

impl<T: Serialize> Sink<'_, T> {
    /// Takes one output.
    pub fn push(&mut self, step: &str, value: T) -> Result<(), String> {
        match self {
            Sink::Encoded(batch) => batch.push_value(step, &value),
            Sink::Typed(items) => {
                items.push(value);
                Ok(())
            }
        }
    }
}

/// Calls `f` on every input of a stage and gives `emit` each result with the stage's sink;
/// returns the stage's output lane. `spare` is an empty batch to encode into, so a chain
/// reuses its buffers.
pub fn run_stage<F, T>(
    f: &F,
    step: &str,
    input: Lane,
    typed_out: bool,
    spare: Batch,
    mut emit: impl FnMut(F::Ret, &mut Sink<'_, T>) -> Result<(), String>,
) -> Result<(Lane, Option<Batch>), String>
where
    F: OneArg,
    T: Serialize + 'static,
{
    let mut typed = Vec::new();
    let mut encoded = spare;
    encoded.clear();
    let mut sink = if typed_out { Sink::Typed(&mut typed) } else { Sink::Encoded(&mut encoded) };
    let freed = match input {
        Lane::Encoded(batch) => {
            for item in batch.iter() {
                emit(f.call_encoded(step, item)?, &mut sink)?;
            }
            Some(batch)
        }
        Lane::Typed(items) => {
            // The chain only hands over a typed lane after checking both stages' `TypeId`s.
            let items = items.downcast::<Vec<F::In>>().unwrap_or_else(|_| unreachable!("lane type checked by the chain"));
            for item in *items {
                emit(f.call(item), &mut sink)?;
            }
            None
        }
    };
    if typed_out {
        Ok((Lane::Typed(Box::new(typed)), freed.or(Some(encoded))))
    } else {
        Ok((Lane::Encoded(encoded), freed))
    }
}
