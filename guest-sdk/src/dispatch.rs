//! Finding a step by the name the host sends, and running per-item steps over a batch.

use crate::step::{
    kind_phrase, BuildStep, FoldStep, IsCompleteStep, ItemStep, StatefulMapStep, StepBody, StepDef,
};
use crate::wit::{StepInfo, StepKind};

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

lookup!(/// The `map` step `name`.
    map, Map, dyn ItemStep<Vec<u8>>);
lookup!(/// The `flat_map` step `name`.
    flat_map, FlatMap, dyn ItemStep<Vec<Vec<u8>>>);
lookup!(/// The `filter` step `name`.
    filter, Filter, dyn ItemStep<bool>);
lookup!(/// The `filter_map` step `name`.
    filter_map, FilterMap, dyn ItemStep<Option<Vec<u8>>>);
lookup!(/// The `inspect` step `name`.
    inspect, Inspect, dyn ItemStep<()>);
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

/// Runs a per-item step over a batch, stopping at the first error.
pub fn each_item<R>(
    named: Named<'_, dyn ItemStep<R>>,
    items: &[Vec<u8>],
) -> Result<Vec<R>, String> {
    items
        .iter()
        .map(|item| named.step.run(named.name, item))
        .collect()
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
            f: ByValue { f: lower },
            output: Returns,
        }),
    };
    static IS_EVEN: StepDef = StepDef {
        name: "is_even",
        body: StepBody::Filter(&DirectAdapter {
            f: ByRef { f: is_even },
            output: Returns,
        }),
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
        let err = map(STEPS, "upper").err().unwrap();
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
            inspect(STEPS, "is_even").err().unwrap(),
            "step `is_even` is a filter, not an inspect"
        );
    }

    #[test]
    fn each_item_keeps_order_and_stops_at_bad_item() {
        let items = vec![
            codec::encode("t", "Ab").unwrap(),
            codec::encode("t", "CD").unwrap(),
        ];
        let out = each_item(map(STEPS, "lower").unwrap(), &items).unwrap();
        let out: Vec<String> = out.iter().map(|b| codec::decode("t", b).unwrap()).collect();
        assert_eq!(out, ["ab", "cd"]);
        let bad = vec![codec::encode("t", &1i64).unwrap()];
        let err = each_item(map(STEPS, "lower").unwrap(), &bad).unwrap_err();
        assert!(
            err.starts_with("step `lower`: cannot decode an item as `String`"),
            "{err}"
        );
    }
}
