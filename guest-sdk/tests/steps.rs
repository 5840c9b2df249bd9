//! The attribute macros and `export_steps!` end to end, natively: the same calls the host
//! makes through the component interface, without building a component.

use bytewax_guest::codec::{decode, encode};
use bytewax_guest::wit::{Group, Guest, StepKind};
use serde::{Deserialize, Serialize};

mod steps {
    use bytewax_guest::{
        builder, event_time, filter, filter_map, flat_map, folder, inspect, is_complete, map,
        reducer, stateful_mapper,
    };
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    pub struct Reading {
        pub t: i64,
        pub sensor: String,
    }

    #[map]
    pub fn lower(line: String) -> String {
        line.to_lowercase()
    }

    #[map]
    pub fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
        text.trim().parse()
    }

    #[flat_map]
    pub fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[map]
    pub fn total(ns: &[i64]) -> i64 {
        ns.iter().sum()
    }

    #[filter]
    pub fn is_even(n: i64) -> bool {
        n % 2 == 0
    }

    #[filter_map]
    pub fn half(n: i64) -> Option<i64> {
        (n % 2 == 0).then_some(n / 2)
    }

    #[inspect]
    pub fn look(_reading: &Reading) {}

    #[builder]
    pub fn zero() -> i64 {
        0
    }

    #[stateful_mapper]
    pub fn running(count: i64, _value: String) -> (Option<i64>, i64) {
        (Some(count + 1), count + 1)
    }

    #[reducer]
    pub fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    #[is_complete]
    pub fn big(acc: &i64) -> bool {
        *acc >= 10
    }

    #[builder]
    pub fn nothing() -> Vec<String> {
        Vec::new()
    }

    #[folder]
    pub fn collect(mut acc: Vec<String>, word: String) -> Vec<String> {
        acc.push(word);
        acc
    }

    #[event_time]
    pub fn at(reading: &Reading) -> i64 {
        reading.t
    }
}

bytewax_guest::export_steps!(
    steps::lower,
    steps::parse,
    steps::words,
    steps::total,
    steps::is_even,
    steps::half,
    steps::look,
    steps::zero,
    steps::running,
    steps::add,
    steps::big,
    steps::nothing,
    steps::collect,
    steps::at,
);

fn enc<T: Serialize>(value: T) -> Vec<u8> {
    encode("test", &value).unwrap()
}

fn dec<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> T {
    decode("test", bytes).unwrap()
}

#[test]
fn functions_stay_callable() {
    assert_eq!(steps::lower("AbC".into()), "abc");
    assert_eq!(steps::add(2, 3), 5);
}

#[test]
fn describe_lists_every_step_with_its_kind() {
    let info = BytewaxSteps::describe();
    let kinds: Vec<(&str, StepKind)> = info.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("lower", StepKind::Map),
            ("parse", StepKind::Map),
            ("words", StepKind::FlatMap),
            ("total", StepKind::Map),
            ("is_even", StepKind::Filter),
            ("half", StepKind::FilterMap),
            ("look", StepKind::Inspect),
            ("zero", StepKind::Builder),
            ("running", StepKind::StatefulMap),
            ("add", StepKind::Reducer),
            ("big", StepKind::IsComplete),
            ("nothing", StepKind::Builder),
            ("collect", StepKind::Folder),
            ("at", StepKind::EventTime),
        ]
    );
}

#[test]
fn per_item_kinds_answer_one_per_item() {
    let out = BytewaxSteps::map("lower".into(), vec![enc("A"), enc("B")]).unwrap();
    assert_eq!(
        out.iter().map(|b| dec::<String>(b)).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let out = BytewaxSteps::flat_map("words".into(), vec![enc("x y"), enc("")]).unwrap();
    assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [2, 0]);
    let out = BytewaxSteps::map("total".into(), vec![enc([1, 2, 3])]).unwrap();
    assert_eq!(dec::<i64>(&out[0]), 6);
    let out = BytewaxSteps::filter("is_even".into(), vec![enc(1), enc(2)]).unwrap();
    assert_eq!(out, [false, true]);
    let out = BytewaxSteps::filter_map("half".into(), vec![enc(3), enc(4)]).unwrap();
    assert_eq!(out[0], None);
    assert_eq!(dec::<i64>(out[1].as_ref().unwrap()), 2);
    let reading = steps::Reading {
        t: 1_700_000_000_000,
        sensor: "a".into(),
    };
    BytewaxSteps::inspect("look".into(), vec![enc(&reading)]).unwrap();
    let out = BytewaxSteps::event_time("at".into(), vec![enc(&reading)]).unwrap();
    assert_eq!(out, [1_700_000_000_000]);
}

#[test]
fn returned_err_and_bad_items_become_step_errors() {
    let err = BytewaxSteps::map("parse".into(), vec![enc("12"), enc("x")]).unwrap_err();
    assert_eq!(err, "step `parse`: invalid digit found in string");
    let err = BytewaxSteps::event_time("at".into(), vec![enc(5)]).unwrap_err();
    assert!(
        err.starts_with("step `at`: cannot decode an item as `Reading`"),
        "{err}"
    );
}

#[test]
fn unknown_names_and_wrong_kinds_are_errors() {
    let err = BytewaxSteps::filter("nope".into(), vec![]).unwrap_err();
    assert!(err.starts_with("no step `nope` in this component"), "{err}");
    let err = BytewaxSteps::reduce("lower".into(), "big".into(), vec![]).unwrap_err();
    assert_eq!(err, "step `lower` is a map, not a reducer");
    let err = BytewaxSteps::fold_window("nothing".into(), "add".into(), vec![]).unwrap_err();
    assert_eq!(err, "step `add` is a reducer, not a folder");
}

#[test]
fn stateful_calls_go_through_the_group_loops() {
    let group = |state: Option<Vec<u8>>, values: Vec<Vec<u8>>| Group { state, values };
    let out = BytewaxSteps::stateful_map(
        "zero".into(),
        "running".into(),
        vec![group(None, vec![enc("a"), enc("b")])],
    )
    .unwrap();
    assert_eq!(
        out[0]
            .emitted
            .iter()
            .map(|b| dec::<i64>(b))
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(dec::<i64>(out[0].state.as_ref().unwrap()), 2);

    let out = BytewaxSteps::reduce(
        "add".into(),
        "big".into(),
        vec![group(None, vec![enc(6), enc(6)])],
    )
    .unwrap();
    assert_eq!(dec::<i64>(&out[0].emitted[0]), 12);
    assert_eq!(out[0].state, None);

    let out =
        BytewaxSteps::reduce_window("add".into(), vec![group(Some(enc(1)), vec![enc(2)])]).unwrap();
    assert_eq!(dec::<i64>(&out[0]), 3);

    let out = BytewaxSteps::fold_window(
        "nothing".into(),
        "collect".into(),
        vec![group(None, vec![enc("w")])],
    )
    .unwrap();
    assert_eq!(dec::<Vec<String>>(&out[0]), ["w"]);
}
