//! The per-key loops of the stateful calls, exactly as the WIT doc comments define them.
//!
//! Each group is one key's share of a batch. Its state stays a [`Held`] for the whole
//! group, so it is decoded at most once per group and encoded once at the end.

use crate::dispatch::Named;
use crate::held::Held;
use crate::step::{BuildStep, FoldStep, IsCompleteStep, StatefulMapStep};
use crate::wit::{Batch, GroupResults, Groups};

impl Groups {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.group_ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.group_ends.is_empty()
    }

    /// Group `g`'s state before the batch, if it has one.
    pub fn state(&self, g: usize) -> Option<&[u8]> {
        Some(self.states.get(g)).filter(|s| !s.is_empty())
    }

    /// Group `g`'s values, in arrival order.
    pub fn values(&self, g: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let start = if g == 0 { 0 } else { self.group_ends[g - 1] as usize };
        (start..self.group_ends[g] as usize).map(|i| self.values.get(i))
    }
}

/// Held state as the host stores it: encoded, or empty for none.
fn push_state(states: &mut Batch, state: Option<Held>, step: &str) -> Result<(), String> {
    match state {
        Some(state) => states.push(&state.into_bytes(step)?),
        None => states.push(&[]),
    }
    Ok(())
}

/// Empty results with room for one entry per group.
fn results_for(groups: &Groups) -> GroupResults {
    GroupResults {
        states: Batch::new(),
        emitted: Batch::new(),
        emitted_ends: Vec::with_capacity(groups.len()),
    }
}

fn held(bytes: Option<&[u8]>) -> Option<Held> {
    bytes.map(|b| Held::Encoded(b.to_vec()))
}

/// `stateful-map`: a missing state is built before each value that finds none; the
/// mapper's `None` forgets the key (the next value builds again); one output per value.
pub fn stateful_map(
    builder: Named<'_, dyn BuildStep>,
    mapper: Named<'_, dyn StatefulMapStep>,
    groups: &Groups,
) -> Result<GroupResults, String> {
    let mut results = results_for(groups);
    for g in 0..groups.len() {
        let mut state = held(groups.state(g));
        for value in groups.values(g) {
            let current = match state.take() {
                Some(current) => current,
                None => builder.step.build(builder.name)?,
            };
            state = mapper
                .step
                .map_state(mapper.name, current, value, &mut results.emitted)?;
        }
        push_state(&mut results.states, state, mapper.name)?;
        results.emitted_ends.push(results.emitted.len() as u32);
    }
    Ok(results)
}

/// `reduce`: a missing accumulator becomes the value itself, later values are folded in;
/// after every value a complete accumulator is emitted and forgotten.
pub fn reduce(
    reducer: Named<'_, dyn FoldStep>,
    is_complete: Named<'_, dyn IsCompleteStep>,
    groups: &Groups,
) -> Result<GroupResults, String> {
    let mut results = results_for(groups);
    for g in 0..groups.len() {
        let mut acc = held(groups.state(g));
        for value in groups.values(g) {
            let next = match acc.take() {
                None => Held::Encoded(value.to_vec()),
                Some(current) => reducer.step.fold(reducer.name, current, value)?,
            };
            if is_complete.step.check(is_complete.name, &next)? {
                results.emitted.push(&next.into_bytes(reducer.name)?);
            } else {
                acc = Some(next);
            }
        }
        push_state(&mut results.states, acc, reducer.name)?;
        results.emitted_ends.push(results.emitted.len() as u32);
    }
    Ok(results)
}

/// `reduce-window`: each group's values folded into its accumulator (a missing one
/// becomes the first value); one accumulator per group.
pub fn reduce_window(reducer: Named<'_, dyn FoldStep>, groups: &Groups) -> Result<Batch, String> {
    let mut accs = Batch::new();
    for g in 0..groups.len() {
        let mut values = groups.values(g).peekable();
        match groups.state(g).or_else(|| values.next()) {
            // Nothing to fold in: the accumulator goes back as it came, never decoded.
            Some(only) if values.peek().is_none() => accs.push(only),
            Some(first) => reducer.step.fold_encoded(reducer.name, first, &mut values, &mut accs)?,
            None => {
                return Err(format!(
                    "step `{}`: reduce-window got a group with no accumulator and no values",
                    reducer.name
                ))
            }
        }
    }
    Ok(accs)
}

/// `fold-window`: a missing accumulator is built, then each value folded in; one
/// accumulator per group (a group without values still gets the built one).
pub fn fold_window(
    builder: Named<'_, dyn BuildStep>,
    folder: Named<'_, dyn FoldStep>,
    groups: &Groups,
) -> Result<Batch, String> {
    let mut accs = Batch::new();
    for g in 0..groups.len() {
        match groups.state(g) {
            Some(acc) => folder.step.fold_encoded(folder.name, acc, &mut groups.values(g), &mut accs)?,
            None => {
                let acc = builder.step.build(builder.name)?;
                let acc = folder.step.fold_all(folder.name, acc, &mut groups.values(g))?;
                accs.push(&acc.into_bytes(folder.name)?);
            }
        }
    }
    Ok(accs)
}

#[cfg(test)]
mod tests;
