//! The per-key loops of the stateful calls, exactly as the WIT doc comments define them.
//!
//! Each group is one key's share of a batch. Its state stays a [`Held`] for the whole
//! group, so it is decoded at most once per group and encoded once at the end.

use crate::dispatch::Named;
use crate::held::Held;
use crate::step::{BuildStep, FoldStep, IsCompleteStep, StatefulMapStep};
use crate::wit::{Group, GroupResult};

/// `stateful-map`: a missing state is built before each value that finds none; the
/// mapper's `None` forgets the key (the next value builds again); one output per value.
pub fn stateful_map(
    builder: Named<'_, dyn BuildStep>,
    mapper: Named<'_, dyn StatefulMapStep>,
    groups: Vec<Group>,
) -> Result<Vec<GroupResult>, String> {
    groups
        .into_iter()
        .map(|group| {
            let mut state = group.state.map(Held::Encoded);
            let mut emitted = Vec::with_capacity(group.values.len());
            for value in &group.values {
                let current = match state.take() {
                    Some(current) => current,
                    None => builder.step.build(builder.name)?,
                };
                let (next, out) = mapper.step.map_state(mapper.name, current, value)?;
                state = next;
                emitted.push(out);
            }
            let state = state.map(|s| s.into_bytes(mapper.name)).transpose()?;
            Ok(GroupResult { state, emitted })
        })
        .collect()
}

/// `reduce`: a missing accumulator becomes the value itself, later values are folded in;
/// after every value a complete accumulator is emitted and forgotten.
pub fn reduce(
    reducer: Named<'_, dyn FoldStep>,
    is_complete: Named<'_, dyn IsCompleteStep>,
    groups: Vec<Group>,
) -> Result<Vec<GroupResult>, String> {
    groups
        .into_iter()
        .map(|group| {
            let mut acc = group.state.map(Held::Encoded);
            let mut emitted = Vec::new();
            for value in group.values {
                let next = match acc.take() {
                    None => Held::Encoded(value),
                    Some(current) => reducer.step.fold(reducer.name, current, &value)?,
                };
                if is_complete.step.check(is_complete.name, &next)? {
                    emitted.push(next.into_bytes(reducer.name)?);
                } else {
                    acc = Some(next);
                }
            }
            let state = acc.map(|a| a.into_bytes(reducer.name)).transpose()?;
            Ok(GroupResult { state, emitted })
        })
        .collect()
}

/// `reduce-window`: each group's values folded into its accumulator (a missing one
/// becomes the first value); one accumulator per group.
pub fn reduce_window(
    reducer: Named<'_, dyn FoldStep>,
    groups: Vec<Group>,
) -> Result<Vec<Vec<u8>>, String> {
    groups
        .into_iter()
        .map(|group| {
            let mut acc = group.state.map(Held::Encoded);
            for value in group.values {
                acc = Some(match acc.take() {
                    None => Held::Encoded(value),
                    Some(current) => reducer.step.fold(reducer.name, current, &value)?,
                });
            }
            match acc {
                Some(acc) => acc.into_bytes(reducer.name),
                None => Err(format!(
                    "step `{}`: reduce-window got a group with no accumulator and no values",
                    reducer.name
                )),
            }
        })
        .collect()
}

/// `fold-window`: a missing accumulator is built, then each value folded in; one
/// accumulator per group (a group without values still gets the built one).
pub fn fold_window(
    builder: Named<'_, dyn BuildStep>,
    folder: Named<'_, dyn FoldStep>,
    groups: Vec<Group>,
) -> Result<Vec<Vec<u8>>, String> {
    groups
        .into_iter()
        .map(|group| {
            let mut acc = match group.state {
                Some(bytes) => Held::Encoded(bytes),
                None => builder.step.build(builder.name)?,
            };
            for value in &group.values {
                acc = folder.step.fold(folder.name, acc, value)?;
            }
            acc.into_bytes(folder.name)
        })
        .collect()
}

#[cfg(test)]
mod tests;
