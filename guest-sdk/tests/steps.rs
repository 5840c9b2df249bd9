//! The attribute macros and `export_steps!` end to end, natively: the same calls the host
//! makes through the component interface, without building a component.

use bytewax_guest::codec::{decode, encode};
use bytewax_guest::wit::{Batch, Groups, Guest, StepKind};
use serde::{Deserialize, Serialize};

mod steps {
    use bytewax_guest::{
        builder, event_time, filter, filter_map, flat_map, folder, inspect, is_complete, map,
        reducer, stateful_mapper, CompactString,
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

    /// A value with a field the codec never carries, so a test can see whether it was
    /// encoded between two steps.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    pub struct Tagged {
        pub n: i64,
        #[serde(skip)]
        pub in_memory: bool,
    }

    #[map]
    pub fn tag(n: i64) -> Tagged {
        Tagged { n, in_memory: true }
    }

    #[map]
    pub fn untag(tagged: Tagged) -> (i64, bool) {
        (tagged.n, tagged.in_memory)
    }

    /// A word keyed by its first letter.
    #[map]
    pub fn by_initial(word: String) -> (String, String) {
        (word[..1].to_string(), word)
    }

    /// A word keyed by its first letter as an inline `CompactString`, counted as one.
    #[map]
    pub fn tally_by_initial(word: String) -> (CompactString, Tagged) {
        (CompactString::from(&word[..1]), Tagged { n: 1, in_memory: true })
    }

    /// Adds counts while both were handed over in memory; a value that went through the
    /// codec turns the sum to -1000, so a test sees whether the combine decoded it.
    #[reducer(associative)]
    pub fn add_in_memory(a: Tagged, b: Tagged) -> Tagged {
        let n = if a.in_memory && b.in_memory { a.n + b.n } else { -1000 };
        Tagged { n, in_memory: true }
    }

    /// Joins with the grouping written out, so a test can see how values were combined.
    #[reducer(associative)]
    pub fn join(a: String, b: String) -> String {
        format!("({a} {b})")
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
    steps::tag,
    steps::untag,
    steps::by_initial,
    steps::join,
    steps::tally_by_initial,
    steps::add_in_memory,
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
            ("tag", StepKind::Map),
            ("untag", StepKind::Map),
            ("by_initial", StepKind::Map),
            ("join", StepKind::Reducer),
            ("tally_by_initial", StepKind::Map),
            ("add_in_memory", StepKind::Reducer),
        ]
    );
    let associative: Vec<&str> = info.iter().filter(|s| s.associative).map(|s| s.name.as_str()).collect();
    assert_eq!(associative, ["join", "add_in_memory"]);
}

fn batch(items: Vec<Vec<u8>>) -> Batch {
    items.iter().map(Vec::as_slice).collect()
}

fn decoded<T: for<'de> Deserialize<'de>>(batch: &Batch) -> Vec<T> {
    batch.iter().map(dec).collect()
}

fn chain(names: &[&str], items: Vec<Vec<u8>>) -> Result<Batch, (u32, String)> {
    let names = names.iter().map(|s| s.to_string()).collect();
    BytewaxSteps::chain(names, batch(items)).map_err(|e| (e.stage, e.message))
}

#[test]
fn every_stateless_kind_runs_in_a_chain() {
    let out = chain(&["lower"], vec![enc("A"), enc("B")]).unwrap();
    assert_eq!(decoded::<String>(&out), ["a", "b"]);
    let out = chain(&["words"], vec![enc("x y"), enc(""), enc("z")]).unwrap();
    assert_eq!(decoded::<String>(&out), ["x", "y", "z"]);
    let out = chain(&["total"], vec![enc([1, 2, 3])]).unwrap();
    assert_eq!(decoded::<i64>(&out), [6]);
    let out = chain(&["is_even"], vec![enc(1), enc(2)]).unwrap();
    assert_eq!(decoded::<i64>(&out), [2]);
    let out = chain(&["half"], vec![enc(3), enc(4)]).unwrap();
    assert_eq!(decoded::<i64>(&out), [2]);
    let reading = steps::Reading {
        t: 1_700_000_000_000,
        sensor: "a".into(),
    };
    let out = chain(&["look"], vec![enc(&reading)]).unwrap();
    assert_eq!(decoded::<steps::Reading>(&out), [reading]);
}

#[test]
fn a_chain_feeds_each_step_what_the_one_before_produced() {
    let out = chain(
        &["lower", "words", "look_words", "parse", "is_even", "half"],
        vec![enc("1 2 3 4"), enc("10 12")],
    );
    // `look_words` is not a step: the whole chain is refused, naming where.
    assert_eq!(out.unwrap_err().0, 2);
    let out = chain(
        &["lower", "words", "parse", "is_even", "half"],
        vec![enc("1 2 3 4"), enc("10 12")],
    )
    .unwrap();
    assert_eq!(decoded::<i64>(&out), [1, 2, 5, 6]);
}

#[test]
fn steps_of_one_type_hand_values_over_without_the_codec() {
    // Within one chain `tag`'s output reaches `untag` as the Rust value itself...
    let out = chain(&["tag", "untag"], vec![enc(7)]).unwrap();
    assert_eq!(decoded::<(i64, bool)>(&out), [(7, true)]);
    // ...while between two calls it crosses encoded, losing the field the codec skips.
    let tagged = chain(&["tag"], vec![enc(7)]).unwrap();
    let out = BytewaxSteps::chain(vec!["untag".into()], tagged).unwrap();
    assert_eq!(decoded::<(i64, bool)>(&out), [(7, false)]);
    // A step after a filter, or of another type, still decodes, with the same errors.
    let out = chain(&["parse", "is_even", "tag", "untag"], vec![enc("3"), enc("4")]).unwrap();
    assert_eq!(decoded::<(i64, bool)>(&out), [(4, true)]);
    let (stage, message) = chain(&["words", "total"], vec![enc("a b")]).unwrap_err();
    assert_eq!(stage, 1);
    assert!(message.starts_with("step `total`: cannot decode an item as `Vec<i64>`"), "{message}");
}

fn combined(names: &[&str], reducer: &str, items: Vec<Vec<u8>>) -> Result<Vec<(String, String)>, (u32, String)> {
    let names = names.iter().map(|s| s.to_string()).collect();
    let out = BytewaxSteps::chain_combine(names, reducer.into(), batch(items)).map_err(|e| (e.stage, e.message))?;
    Ok(decoded(&out))
}

#[test]
fn an_associative_reducer_combines_a_chains_pairs_per_key() {
    // Pairs straight from the chain's last step: one per key, first-seen order, values
    // folded in arrival order.
    let out = combined(&["words", "by_initial"], "join", vec![enc("ab b ac"), enc("ad bb")]).unwrap();
    let expected = [("a", "((ab ac) ad)"), ("b", "(b bb)")].map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(out, expected);
    // Pairs that arrive encoded (no chain before) combine the same way.
    let pairs = vec![enc(("x", "1")), enc(("y", "2")), enc(("x", "3"))];
    let out = combined(&[], "join", pairs).unwrap();
    assert_eq!(out, [("x", "(1 3)"), ("y", "2")].map(|(k, v)| (k.to_string(), v.to_string())));
}

#[test]
fn pairs_keyed_by_compact_strings_reach_the_combine_as_they_are() {
    let names = vec!["words".to_string(), "tally_by_initial".to_string()];
    let items = batch(vec![enc("ab b ac"), enc("ad bb")]);
    let out = BytewaxSteps::chain_combine(names, "add_in_memory".into(), items).unwrap();
    let totals = |out: &Batch| -> Vec<(String, i64)> { decoded::<(String, steps::Tagged)>(out).into_iter().map(|(k, t)| (k, t.n)).collect() };
    assert_eq!(totals(&out), [("a".to_string(), 3), ("b".to_string(), 2)]);
    // The same pairs sent encoded are decoded, which the reducer shows.
    let one = || enc(("a", steps::Tagged { n: 1, in_memory: true }));
    let out = BytewaxSteps::chain_combine(vec![], "add_in_memory".into(), batch(vec![one(), one()])).unwrap();
    assert_eq!(totals(&out), [("a".to_string(), -1000)]);
}

#[test]
fn a_batch_longer_than_one_run_still_combines_into_one_pair_per_key() {
    // The chain runs over COMBINE_RUN lines at a time; the pairs of every run combine
    // together, in arrival order, as if the batch had been one run.
    let lines = bytewax_guest::dispatch::COMBINE_RUN * 2 + 5;
    let items = (0..lines).map(|i| enc(format!("a{i} b{i}"))).collect();
    let out = combined(&["words", "by_initial"], "join", items).unwrap();
    let left_fold = |initial: char| (1..lines).fold(format!("{initial}0"), |acc, i| format!("({acc} {initial}{i})"));
    assert_eq!(out, [("a".to_string(), left_fold('a')), ("b".to_string(), left_fold('b'))]);
    // A stage failing in a later run is reported as that stage's error.
    let mut items: Vec<Vec<u8>> = (0..lines).map(|i| enc(format!("a{i}"))).collect();
    items.push(enc(5));
    let (stage, message) = combined(&["lower", "by_initial"], "join", items).unwrap_err();
    assert_eq!(stage, 0);
    assert!(message.starts_with("step `lower`: cannot decode an item as `String`"), "{message}");
}

#[test]
fn only_reducers_declared_associative_combine() {
    let (stage, message) = combined(&["lower"], "add", vec![enc("a")]).unwrap_err();
    assert_eq!(stage, 1);
    assert!(message.contains("`add` is not declared `#[reducer(associative)]`"), "{message}");
    let (stage, message) = combined(&["lower"], "join", vec![enc("a")]).unwrap_err();
    assert_eq!(stage, 1);
    assert!(message.starts_with("step `join`: cannot decode an item as `(&str, String)`"), "{message}");
}

#[test]
fn verdict_calls_answer_one_per_item() {
    let out = BytewaxSteps::filter("is_even".into(), batch(vec![enc(1), enc(2)])).unwrap();
    assert_eq!(out, [false, true]);
    let reading = steps::Reading {
        t: 1_700_000_000_000,
        sensor: "a".into(),
    };
    let out = BytewaxSteps::event_time("at".into(), batch(vec![enc(&reading)])).unwrap();
    assert_eq!(out, [1_700_000_000_000]);
}

#[test]
fn returned_err_and_bad_items_become_step_errors() {
    let err = chain(&["words", "parse"], vec![enc("12 x")]).unwrap_err();
    assert_eq!(err, (1, "step `parse`: invalid digit found in string".to_string()));
    let err = BytewaxSteps::event_time("at".into(), batch(vec![enc(5)])).unwrap_err();
    assert!(
        err.starts_with("step `at`: cannot decode an item as `Reading`"),
        "{err}"
    );
}

/// A group: its encoded state or accumulator (none for a new key), and its encoded values.
type Group = (Option<Vec<u8>>, Vec<Vec<u8>>);

fn groups(list: Vec<Group>) -> Groups {
    let mut flat = Groups {
        states: Batch::new(),
        values: Batch::new(),
        group_ends: Vec::new(),
    };
    for (state, values) in list {
        flat.states.push(state.as_deref().unwrap_or(&[]));
        values.iter().for_each(|v| flat.values.push(v));
        flat.group_ends.push(flat.values.len() as u32);
    }
    flat
}

#[test]
fn unknown_names_and_wrong_kinds_are_errors() {
    let err = BytewaxSteps::filter("nope".into(), Batch::new()).unwrap_err();
    assert!(err.starts_with("no step `nope` in this component"), "{err}");
    let err = BytewaxSteps::reduce("lower".into(), "big".into(), groups(vec![])).unwrap_err();
    assert_eq!(err, "step `lower` is a map, not a reducer");
    let err =
        BytewaxSteps::fold_window("nothing".into(), "add".into(), groups(vec![])).unwrap_err();
    assert_eq!(err, "step `add` is a reducer, not a folder");
    let err = chain(&["lower", "add"], vec![]).unwrap_err();
    assert_eq!(
        err,
        (1, "step `add` is a reducer, which cannot be part of a chain of stateless steps".to_string())
    );
}

#[test]
fn stateful_calls_go_through_the_group_loops() {
    let out = BytewaxSteps::stateful_map(
        "zero".into(),
        "running".into(),
        groups(vec![(None, vec![enc("a"), enc("b")])]),
    )
    .unwrap();
    assert_eq!(decoded::<i64>(&out.emitted), [1, 2]);
    assert_eq!(out.emitted_ends, [2]);
    assert_eq!(dec::<i64>(out.states.get(0)), 2);

    let out = BytewaxSteps::reduce(
        "add".into(),
        "big".into(),
        groups(vec![(None, vec![enc(6), enc(6)]), (None, vec![enc(1)])]),
    )
    .unwrap();
    assert_eq!(decoded::<i64>(&out.emitted), [12]);
    assert_eq!(out.emitted_ends, [1, 1]);
    // Emitted and complete: forgotten (an empty state); the second key keeps its 1.
    assert!(out.states.get(0).is_empty());
    assert_eq!(dec::<i64>(out.states.get(1)), 1);

    let out = BytewaxSteps::reduce_window(
        "add".into(),
        groups(vec![(Some(enc(1)), vec![enc(2)])]),
    )
    .unwrap();
    assert_eq!(decoded::<i64>(&out), [3]);

    let out = BytewaxSteps::fold_window(
        "nothing".into(),
        "collect".into(),
        groups(vec![(None, vec![enc("w")])]),
    )
    .unwrap();
    assert_eq!(decoded::<Vec<String>>(&out), [vec!["w".to_string()]]);
}
