//! Adapters from a typed user function to the erased step traits of each kind.
//!
//! Each adapter decodes the inputs, calls the function through its [`call`](crate::call)
//! wrapper, turns a returned `Err` into the step's error text and encodes the outputs.

use std::any::TypeId;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::call::{NoArgs, OneArg, Output, TwoArgs};
use crate::codec;
use crate::combine::combine_pairs;
use crate::held::Held;
use crate::lane::{run_stage, Lane, LaneTypes};
use crate::step::{BuildStep, FoldStep, IsCompleteStep, ItemStep, StatefulMapStep};
use crate::wit::Batch;

/// The text of a step's own error (a returned `Err`).
fn failed(step: &str, err: String) -> String {
    format!("step `{step}`: {err}")
}

/// A `map`: the function's value, encoded.
pub struct MapAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<F, O> ItemStep<()> for MapAdapter<F, O>
where
    F: OneArg,
    O: Output<F::Ret>,
    O::Ok: Serialize + 'static,
{
    fn run(&self, step: &str, item: &[u8], out: &mut Batch) -> Result<(), String> {
        let value = O::into_result(self.f.call_encoded(step, item)?).map_err(|e| failed(step, e))?;
        out.push_value(step, &value)
    }

    fn lane_types(&self) -> Option<LaneTypes> {
        Some(LaneTypes::of::<F, O::Ok>())
    }

    fn run_lane(&self, step: &str, input: Lane, typed_out: bool, spare: Batch) -> Result<(Lane, Option<Batch>), String> {
        run_stage(&self.f, step, input, typed_out, spare, |returned, sink| {
            sink.push(step, O::into_result(returned).map_err(|e| failed(step, e))?)
        })
    }
}

/// A `flat_map`: each element of what the function returns, encoded.
pub struct FlatMapAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<F, O> ItemStep<()> for FlatMapAdapter<F, O>
where
    F: OneArg,
    O: Output<F::Ret>,
    O::Ok: IntoIterator,
    <O::Ok as IntoIterator>::Item: Serialize + 'static,
{
    fn run(&self, step: &str, item: &[u8], out: &mut Batch) -> Result<(), String> {
        let values = O::into_result(self.f.call_encoded(step, item)?).map_err(|e| failed(step, e))?;
        values
            .into_iter()
            .try_for_each(|value| out.push_value(step, &value))
    }

    fn lane_types(&self) -> Option<LaneTypes> {
        Some(LaneTypes::of::<F, <O::Ok as IntoIterator>::Item>())
    }

    fn run_lane(&self, step: &str, input: Lane, typed_out: bool, spare: Batch) -> Result<(Lane, Option<Batch>), String> {
        run_stage(&self.f, step, input, typed_out, spare, |returned, sink| {
            let values = O::into_result(returned).map_err(|e| failed(step, e))?;
            values.into_iter().try_for_each(|value| sink.push(step, value))
        })
    }
}

/// A `filter_map`: the function's `Some` value encoded, or none.
pub struct FilterMapAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<F, O, T> ItemStep<()> for FilterMapAdapter<F, O>
where
    F: OneArg,
    O: Output<F::Ret, Ok = Option<T>>,
    T: Serialize + 'static,
{
    fn run(&self, step: &str, item: &[u8], out: &mut Batch) -> Result<(), String> {
        match O::into_result(self.f.call_encoded(step, item)?).map_err(|e| failed(step, e))? {
            Some(value) => out.push_value(step, &value),
            None => Ok(()),
        }
    }

    fn lane_types(&self) -> Option<LaneTypes> {
        Some(LaneTypes::of::<F, T>())
    }

    fn run_lane(&self, step: &str, input: Lane, typed_out: bool, spare: Batch) -> Result<(Lane, Option<Batch>), String> {
        run_stage(&self.f, step, input, typed_out, spare, |returned, sink| {
            match O::into_result(returned).map_err(|e| failed(step, e))? {
                Some(value) => sink.push(step, value),
                None => Ok(()),
            }
        })
    }
}

/// A `filter`, `inspect` or `event_time`: the function's value is the step's answer.
pub struct DirectAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<F, O, R> ItemStep<R> for DirectAdapter<F, O>
where
    F: OneArg,
    O: Output<F::Ret, Ok = R>,
{
    fn run(&self, step: &str, item: &[u8], _out: &mut Batch) -> Result<R, String> {
        O::into_result(self.f.call_encoded(step, item)?).map_err(|e| failed(step, e))
    }
}

/// An `is_complete`: looks at the accumulator in place when the types allow.
pub struct IsCompleteAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<F, O> IsCompleteStep for IsCompleteAdapter<F, O>
where
    F: OneArg,
    O: Output<F::Ret, Ok = bool>,
{
    fn check(&self, step: &str, acc: &Held) -> Result<bool, String> {
        let returned = match acc.peek::<F::In>().and_then(|a| self.f.call_borrowed(a)) {
            Some(returned) => returned,
            None => self.f.call(codec::decode(step, &acc.to_bytes(step)?)?),
        };
        O::into_result(returned).map_err(|e| failed(step, e))
    }
}

/// A `builder`.
pub struct BuilderAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<R, O, F> BuildStep for BuilderAdapter<NoArgs<R, F>, O>
where
    R: 'static,
    F: Fn() -> R + Sync,
    O: Output<R>,
    O::Ok: Serialize + 'static,
{
    fn build(&self, step: &str) -> Result<Held, String> {
        let state = O::into_result((self.f.f)()).map_err(|e| failed(step, e))?;
        Ok(Held::decoded(state))
    }
}

/// A `reducer` or `folder`: `fn(acc, value) -> acc`.
pub struct FoldAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<A, V, R, O, F> FoldStep for FoldAdapter<TwoArgs<A, V, R, F>, O>
where
    F: Fn(A, V) -> R + Sync,
    A: Serialize + DeserializeOwned + 'static,
    V: DeserializeOwned + 'static,
    R: 'static,
    O: Output<R, Ok = A>,
{
    fn fold(&self, step: &str, acc: Held, value: &[u8]) -> Result<Held, String> {
        let acc: A = acc.take(step)?;
        let value: V = codec::decode(step, value)?;
        let next = O::into_result((self.f.f)(acc, value)).map_err(|e| failed(step, e))?;
        Ok(Held::decoded(next))
    }

    fn fold_all(
        &self,
        step: &str,
        acc: Held,
        values: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<Held, String> {
        let mut acc: A = acc.take(step)?;
        for value in values {
            let value: V = codec::decode(step, value)?;
            acc = O::into_result((self.f.f)(acc, value)).map_err(|e| failed(step, e))?;
        }
        Ok(Held::decoded(acc))
    }

    fn pair_types(&self) -> [TypeId; 2] {
        [TypeId::of::<(String, V)>(), TypeId::of::<(compact_str::CompactString, V)>()]
    }

    fn combine(&self, step: &str, lanes: &mut dyn Iterator<Item = Lane>, out: &mut Batch) -> Result<(), String> {
        combine_pairs(step, lanes, out, |acc: A, value: V| O::into_result((self.f.f)(acc, value)).map_err(|e| failed(step, e)))
    }

    fn fold_encoded(
        &self,
        step: &str,
        acc: &[u8],
        values: &mut dyn Iterator<Item = &[u8]>,
        out: &mut Batch,
    ) -> Result<(), String> {
        let mut acc: A = codec::decode(step, acc)?;
        for value in values {
            let value: V = codec::decode(step, value)?;
            acc = O::into_result((self.f.f)(acc, value)).map_err(|e| failed(step, e))?;
        }
        out.push_value(step, &acc)
    }
}

/// A `stateful_mapper`: `fn(state, value) -> (Option<state>, output)`.
pub struct StatefulMapAdapter<F, O> {
    /// The call wrapper.
    pub f: F,
    /// How its return value is read.
    pub output: O,
}

impl<S, V, R, O, T, F> StatefulMapStep for StatefulMapAdapter<TwoArgs<S, V, R, F>, O>
where
    F: Fn(S, V) -> R + Sync,
    S: Serialize + DeserializeOwned + 'static,
    V: DeserializeOwned + 'static,
    R: 'static,
    O: Output<R, Ok = (Option<S>, T)>,
    T: Serialize,
{
    fn map_state(
        &self,
        step: &str,
        state: Held,
        value: &[u8],
        out: &mut Batch,
    ) -> Result<Option<Held>, String> {
        let state: S = state.take(step)?;
        let value: V = codec::decode(step, value)?;
        let (next, emitted) =
            O::into_result((self.f.f)(state, value)).map_err(|e| failed(step, e))?;
        out.push_value(step, &emitted)?;
        Ok(next.map(Held::decoded))
    }
}
