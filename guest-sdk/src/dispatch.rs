//! Finding a step by the name the host sends, and running per-item steps over a batch.

use crate::step::{
    kind_phrase, BuildStep, FoldStep, IsCompleteStep, ItemStep, StatefulMapStep, StepBody, StepDef,
};
use std::any::TypeId;

use crate::lane::Lane;
use crate::wit::{Batch, ChainError, StepInfo, StepKind};

/// A step looked up by name, with the name kept for its error messages.
pub struct Named<'a, T: ?Sized> {
    /// The step's name.
    pub name: &'a str,
    /// Its function.
    pub step: &'a T,
}

/// Each step's name and kind, in the order `export_steps!` lists them.
pub fn describe(steps: &[&StepDef]) -> Vec<StepInfo> {
    steps
        .iter()
        .map(|def| StepInfo {
            name: def.name.to_string(),
            kind: def.body.kind(),
            associative: def.associative,
        })
        .collect()
}

fn find<'a>(steps: &[&'a StepDef], name: &str) -> Result<&'a StepDef, String> {
    steps
        .iter()
        .copied()
        .find(|def| def.name == name)
        .ok_or_else(|| {
            let offered: Vec<String> = steps.iter().map(|def| format!("`{}`", def.name)).collect();
            format!(
                "no step `{name}` in this component (it offers {})",
                offered.join(", ")
            )
        })
}

fn expect<'a, T: ?Sized>(
    steps: &[&StepDef],
    name: &'a str,
    wanted: StepKind,
    pick: fn(StepBody) -> Option<&'static T>,
) -> Result<Named<'a, T>, String> {
    let def = find(steps, name)?;
    match pick(def.body) {
        Some(step) => Ok(Named { name, step }),
        None => Err(format!(
            "step `{name}` is {}, not {}",
            kind_phrase(def.body.kind()),
            kind_phrase(wanted)
        )),
    }
}

macro_rules! lookup {
    ($(#[$doc:meta])* $fn_name:ident, $variant:ident, $trait:ty) => {
        $(#[$doc])*
        pub fn $fn_name<'a>(steps: &[&StepDef], name: &'a str) -> Result<Named<'a, $trait>, String> {
            expect(steps, name, StepKind::$variant, |body| match body {
                StepBody::$variant(step) => Some(step),
                _ => None,
            })
        }
    };
}

lookup!(/// The `filter` step `name`.
    filter, Filter, dyn ItemStep<bool>);
lookup!(/// The `event_time` step `name`.
    event_time, EventTime, dyn ItemStep<i64>);
lookup!(/// The `stateful_mapper` step `name`.
    stateful_mapper, StatefulMap, dyn StatefulMapStep);
lookup!(/// The `reducer` step `name`.
    reducer, Reducer, dyn FoldStep);
lookup!(/// The `is_complete` step `name`.
    is_complete, IsComplete, dyn IsCompleteStep);
lookup!(/// The `builder` step `name`.
    builder, Builder, dyn BuildStep);
lookup!(/// The `folder` step `name`.
    folder, Folder, dyn FoldStep);

/// Runs a step that answers per item (a filter's verdict, an event time) over a batch,
/// stopping at the first error.
pub fn verdicts<R>(named: Named<'_, dyn ItemStep<R>>, items: &Batch) -> Result<Vec<R>, String> {
    // Such steps produce no items; the scratch batch only satisfies the signature.
    let mut unused = Batch::new();
    items
        .iter()
        .map(|item| named.step.run(named.name, item, &mut unused))
        .collect()
}

/// One step of a chain, resolved.
enum Stage<'a> {
    /// A `map`, `flat_map` or `filter_map`: writes its own outputs.
    Produces(Named<'a, dyn ItemStep<()>>),
    /// A `filter`: the input goes on when kept.
    Keeps(Named<'a, dyn ItemStep<bool>>),
    /// An `inspect`: the input goes on.
    Looks(Named<'a, dyn ItemStep<()>>),
}

fn stage<'a>(steps: &[&StepDef], name: &'a str) -> Result<Stage<'a>, String> {
    let def = find(steps, name)?;
    Ok(match def.body {
        StepBody::Map(step) | StepBody::FlatMap(step) | StepBody::FilterMap(step) => {
            Stage::Produces(Named { name, step })
        }
        StepBody::Filter(step) => Stage::Keeps(Named { name, step }),
        StepBody::Inspect(step) => Stage::Looks(Named { name, step }),
        other => {
            return Err(format!(
                "step `{name}` is {}, which cannot be part of a chain of stateless steps",
                kind_phrase(other.kind())
            ))
        }
    })
}

/// Runs `names` in order over `items`, each step over everything the one before produced.
/// Between two producing steps whose types match, items pass as Rust values (see
/// [`lane`](crate::lane)); elsewhere they are encoded. Spent batches are reused, so a long
/// chain allocates little per step.
pub fn chain(steps: &[&StepDef], names: &[String], items: Batch) -> Result<Batch, ChainError> {
    match run_chain(steps, names, items, &[])? {
        Lane::Encoded(out) => Ok(out),
        Lane::Typed(_) => unreachable!("a chain's last stage encodes unless asked otherwise"),
    }
}

/// Items a combining chain runs through all its stages at a time: the host may send a big
/// batch so that more of a key's values combine into one pair, and running it in runs
/// keeps the stages' intermediate items (a few per input) from growing with the batch.
pub const COMBINE_RUN: usize = 1024;

/// [`chain`], then its `(key, value)` pairs combined per key by the associative `reducer`
/// (see `chain-combine` in the WIT). The chain runs over [`COMBINE_RUN`] items at a time,
/// all of them combining into one set of pairs. The last stage hands its pairs over as
/// Rust values when they are the reducer's pair type.
pub fn chain_combine(steps: &[&StepDef], names: &[String], reducer: &str, items: Batch) -> Result<Batch, ChainError> {
    let at_reducer = |message: String| ChainError { stage: names.len() as u32, message };
    let named = self::reducer(steps, reducer).map_err(at_reducer)?;
    if !find(steps, reducer).map_err(at_reducer)?.associative {
        return Err(at_reducer(format!(
            "step `{reducer}` is not declared `#[reducer(associative)]`, so its values cannot be combined early"
        )));
    }
    let pair_types = named.step.pair_types();
    // A failing stage ends the runs. The reducer has then seen only earlier items, and
    // stops the runs itself when it fails, so whichever error is set came first.
    let mut failed = None;
    let mut lanes = items.into_chunks(COMBINE_RUN).map_while(|run| {
        run_chain(steps, names, run, &pair_types).map_err(|e| failed = Some(e)).ok()
    });
    let mut out = Batch::new();
    let combined = named.step.combine(named.name, &mut lanes, &mut out);
    if let Some(e) = failed {
        return Err(e);
    }
    combined.map_err(at_reducer)?;
    Ok(out)
}

/// The stages of a chain; the last hands its output over typed when it produces exactly
/// `last_typed`.
fn run_chain(steps: &[&StepDef], names: &[String], items: Batch, last_typed: &[TypeId]) -> Result<Lane, ChainError> {
    let fail = |at: usize| move |message: String| ChainError { stage: at as u32, message };
    let stages = names
        .iter()
        .enumerate()
        .map(|(at, name)| stage(steps, name).map_err(fail(at)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut lane = Lane::Encoded(items);
    let mut spare = Batch::new();
    for (at, stage) in stages.iter().enumerate() {
        lane = match (stage, lane) {
            (Stage::Produces(named), input) => {
                let typed_out = match stages.get(at + 1) {
                    Some(next) => hands_over_typed(named, next),
                    None => named.step.lane_types().is_some_and(|t| last_typed.contains(&t.output)),
                };
                let (out, freed) = named.step.run_lane(named.name, input, typed_out, spare).map_err(fail(at))?;
                spare = freed.unwrap_or_default();
                out
            }
            (Stage::Keeps(named), Lane::Encoded(input)) => {
                spare.clear();
                for item in input.iter() {
                    if named.step.run(named.name, item, &mut spare).map_err(fail(at))? {
                        spare.push(item);
                    }
                }
                Lane::Encoded(std::mem::replace(&mut spare, input))
            }
            (Stage::Looks(named), Lane::Encoded(input)) => {
                for item in input.iter() {
                    named.step.run(named.name, item, &mut spare).map_err(fail(at))?;
                }
                // Nothing changed: the input goes on as it is.
                Lane::Encoded(input)
            }
            (_, Lane::Typed(_)) => unreachable!("only a producing stage is handed typed items"),
        };
    }
    Ok(lane)
}

/// Whether `named`'s outputs can go to the `next` stage as Rust values: both produce, and
/// what `named` gives is exactly the type `next` takes.
fn hands_over_typed(named: &Named<'_, dyn ItemStep<()>>, next: &Stage<'_>) -> bool {
    let Stage::Produces(next) = next else { return false };
    match (named.step.lane_types(), next.step.lane_types()) {
        (Some(this), Some(next)) => this.output == next.input,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::{DirectAdapter, MapAdapter};
    use crate::call::{ByRef, ByValue, Returns};
    use crate::codec;

    fn lower(s: String) -> String {
        s.to_lowercase()
    }

    fn is_even(n: &i64) -> bool {
        n % 2 == 0
    }

    static LOWER: StepDef = StepDef {
        name: "lower",
        body: StepBody::Map(&MapAdapter {
            f: ByValue::new(lower),
            output: Returns,
        }),
        associative: false,
    };
    static IS_EVEN: StepDef = StepDef {
        name: "is_even",
        body: StepBody::Filter(&DirectAdapter {
            f: ByRef::new(is_even),
            output: Returns,
        }),
        associative: false,
    };
    static STEPS: &[&StepDef] = &[&LOWER, &IS_EVEN];

    #[test]
    fn describe_lists_names_and_kinds_in_order() {
        let info = describe(STEPS);
        assert_eq!(info.len(), 2);
        assert_eq!(
            (info[0].name.as_str(), info[0].kind),
            ("lower", StepKind::Map)
        );
        assert_eq!(
            (info[1].name.as_str(), info[1].kind),
            ("is_even", StepKind::Filter)
        );
    }

    #[test]
    fn unknown_step_lists_what_is_offered() {
        let err = filter(STEPS, "upper").err().unwrap();
        assert_eq!(
            err,
            "no step `upper` in this component (it offers `lower`, `is_even`)"
        );
    }

    #[test]
    fn wrong_kind_says_both_kinds() {
        assert_eq!(
            reducer(STEPS, "lower").err().unwrap(),
            "step `lower` is a map, not a reducer"
        );
        assert_eq!(
            filter(STEPS, "lower").err().unwrap(),
            "step `lower` is a map, not a filter"
        );
    }

    fn batch_of<T: serde::Serialize>(values: &[T]) -> Batch {
        let mut batch = Batch::new();
        values.iter().for_each(|v| batch.push_value("t", v).unwrap());
        batch
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chain_keeps_order_and_names_the_failing_stage() {
        let out = chain(STEPS, &names(&["lower"]), batch_of(&["Ab", "CD"])).unwrap();
        let out: Vec<String> = out.iter().map(|b| codec::decode("t", b).unwrap()).collect();
        assert_eq!(out, ["ab", "cd"]);
        let err = chain(STEPS, &names(&["is_even", "lower"]), batch_of(&[2i64])).unwrap_err();
        assert_eq!(err.stage, 1);
        assert!(
            err.message.starts_with("step `lower`: cannot decode an item as `String`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn chain_filters_and_passes_kept_items_on_unchanged() {
        let out = chain(STEPS, &names(&["is_even"]), batch_of(&[1i64, 2, 3, 4])).unwrap();
        let kept: Vec<i64> = out.iter().map(|b| codec::decode("t", b).unwrap()).collect();
        assert_eq!(kept, [2, 4]);
        let verdict = verdicts(filter(STEPS, "is_even").unwrap(), &batch_of(&[1i64, 2])).unwrap();
        assert_eq!(verdict, [false, true]);
    }

    #[test]
    fn chain_refuses_stateful_steps_by_stage() {
        static ZERO: StepDef = StepDef {
            name: "zero",
            body: StepBody::Builder(&crate::adapters::BuilderAdapter {
                f: crate::call::NoArgs::new(|| 0i64),
                output: Returns,
            }),
            associative: false,
        };
        let err = chain(&[&LOWER, &ZERO], &names(&["lower", "zero"]), Batch::new()).unwrap_err();
        assert_eq!(err.stage, 1);
        assert_eq!(
            err.message,
            "step `zero` is a builder, which cannot be part of a chain of stateless steps"
        );
    }
}
