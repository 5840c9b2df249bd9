//! The group loops against hand-built steps, checked value by value.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::adapters::{BuilderAdapter, FoldAdapter, IsCompleteAdapter, StatefulMapAdapter};
use crate::call::{ByRef, ByValue, NoArgs, Returns, ReturnsResult, TwoArgs};
use crate::codec;

static BUILDS: AtomicUsize = AtomicUsize::new(0);

fn zero() -> i64 {
    BUILDS.fetch_add(1, Ordering::SeqCst);
    0
}

fn count_to_three(count: i64, _value: String) -> (Option<i64>, i64) {
    let count = count + 1;
    (if count >= 3 { None } else { Some(count) }, count)
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn checked_add(a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_string())
}

fn at_least_10(acc: &i64) -> bool {
    *acc >= 10
}

fn float_at_least_10(acc: f64) -> bool {
    acc >= 10.0
}

fn empty() -> Vec<i64> {
    Vec::new()
}

fn push(mut acc: Vec<i64>, value: i64) -> Vec<i64> {
    acc.push(value);
    acc
}

static ZERO: BuilderAdapter<NoArgs<i64>, Returns> = BuilderAdapter {
    f: NoArgs::new(zero),
    output: Returns,
};
type CountToThree = TwoArgs<i64, String, (Option<i64>, i64)>;

static COUNT: StatefulMapAdapter<CountToThree, Returns> = StatefulMapAdapter {
    f: TwoArgs::new(count_to_three),
    output: Returns,
};
static ADD: FoldAdapter<TwoArgs<i64, i64, i64>, Returns> = FoldAdapter {
    f: TwoArgs::new(add),
    output: Returns,
};
static CHECKED_ADD: FoldAdapter<TwoArgs<i64, i64, Result<i64, String>>, ReturnsResult> =
    FoldAdapter {
        f: TwoArgs::new(checked_add),
        output: ReturnsResult,
    };
static AT_LEAST_10: IsCompleteAdapter<ByRef<i64, bool>, Returns> = IsCompleteAdapter {
    f: ByRef::new(at_least_10),
    output: Returns,
};
static FLOAT_AT_LEAST_10: IsCompleteAdapter<ByValue<f64, bool>, Returns> = IsCompleteAdapter {
    f: ByValue::new(float_at_least_10),
    output: Returns,
};
static EMPTY: BuilderAdapter<NoArgs<Vec<i64>>, Returns> = BuilderAdapter {
    f: NoArgs::new(empty),
    output: Returns,
};
static PUSH: FoldAdapter<TwoArgs<Vec<i64>, i64, Vec<i64>>, Returns> = FoldAdapter {
    f: TwoArgs::new(push),
    output: Returns,
};

fn named<'a, T: ?Sized>(name: &'a str, step: &'a T) -> Named<'a, T> {
    Named { name, step }
}

fn enc<T: serde::Serialize>(value: T) -> Vec<u8> {
    codec::encode("test", &value).unwrap()
}

type Group = (Option<Vec<u8>>, Vec<Vec<u8>>);

fn group<T: serde::Serialize, V: serde::Serialize>(state: Option<T>, values: Vec<V>) -> Group {
    (state.map(enc), values.into_iter().map(enc).collect())
}

/// Lays groups flat, as the host sends them.
fn flat(groups: Vec<Group>) -> Groups {
    let mut flat = Groups {
        states: Batch::new(),
        values: Batch::new(),
        group_ends: Vec::new(),
    };
    for (state, values) in groups {
        flat.states.push(state.as_deref().unwrap_or(&[]));
        values.iter().for_each(|v| flat.values.push(v));
        flat.group_ends.push(flat.values.len() as u32);
    }
    flat
}

fn ints<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<i64> {
    items.map(|b| codec::decode("test", b).unwrap()).collect()
}

/// Group `g`'s emitted values as ints.
fn emitted(results: &GroupResults, g: usize) -> Vec<i64> {
    let start = if g == 0 { 0 } else { results.emitted_ends[g - 1] as usize };
    ints((start..results.emitted_ends[g] as usize).map(|i| results.emitted.get(i)))
}

fn state_int(results: &GroupResults, g: usize) -> Option<i64> {
    Some(results.states.get(g))
        .filter(|b| !b.is_empty())
        .map(|b| codec::decode("test", b).unwrap())
}

#[test]
fn stateful_map_builds_when_missing_and_forgets_on_none() {
    let before = BUILDS.load(Ordering::SeqCst);
    let groups = vec![
        group(None::<i64>, vec!["a", "b", "c", "d", "e"]),
        group(Some(2i64), vec!["f"]),
        group(Some(1i64), Vec::<&str>::new()),
    ];
    let out = stateful_map(named("zero", &ZERO), named("count", &COUNT), &flat(groups)).unwrap();
    assert_eq!(emitted(&out, 0), [1, 2, 3, 1, 2]);
    assert_eq!(state_int(&out, 0), Some(2));
    assert_eq!(emitted(&out, 1), [3]);
    assert_eq!(state_int(&out, 1), None);
    assert!(emitted(&out, 2).is_empty());
    assert_eq!(state_int(&out, 2), Some(1));
    // Built at the first value and again after the forget, never for a present state.
    assert_eq!(BUILDS.load(Ordering::SeqCst) - before, 2);
}

#[test]
fn reduce_checks_after_every_value_including_the_first() {
    let groups = vec![
        group(None::<i64>, vec![4i64, 5, 3, 20]),
        group(Some(8i64), vec![1i64]),
    ];
    let out = reduce(
        named("add", &ADD),
        named("at_least_10", &AT_LEAST_10),
        &flat(groups),
    )
    .unwrap();
    assert_eq!(emitted(&out, 0), [12, 20]);
    assert_eq!(state_int(&out, 0), None);
    assert!(emitted(&out, 1).is_empty());
    assert_eq!(state_int(&out, 1), Some(9));
}

#[test]
fn reduce_converts_between_steps_that_disagree_on_the_type() {
    let groups = vec![group(None::<i64>, vec![6i64, 6])];
    let out = reduce(
        named("add", &ADD),
        named("float", &FLOAT_AT_LEAST_10),
        &flat(groups),
    )
    .unwrap();
    assert_eq!(emitted(&out, 0), [12]);
}

#[test]
fn reduce_window_folds_each_group_into_one_accumulator() {
    let groups = vec![
        group(None::<i64>, vec![1i64, 2, 3]),
        group(Some(10i64), Vec::<i64>::new()),
    ];
    assert_eq!(
        ints(reduce_window(named("add", &ADD), &flat(groups)).unwrap().iter()),
        [6, 10]
    );
    let err = reduce_window(
        named("add", &ADD),
        &flat(vec![group(None::<i64>, Vec::<i64>::new())]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "step `add`: reduce-window got a group with no accumulator and no values"
    );
}

#[test]
fn fold_window_builds_missing_accumulators() {
    let groups = vec![
        group(None::<Vec<i64>>, vec![1i64, 2]),
        group(Some(vec![0i64]), vec![5i64]),
        group(None::<Vec<i64>>, Vec::<i64>::new()),
    ];
    let out = fold_window(named("empty", &EMPTY), named("push", &PUSH), &flat(groups)).unwrap();
    let lists: Vec<Vec<i64>> = out
        .iter()
        .map(|b| codec::decode("test", b).unwrap())
        .collect();
    assert_eq!(lists, [vec![1, 2], vec![0, 5], vec![]]);
}

#[test]
fn errors_name_the_step_that_failed() {
    let overflow = vec![group(Some(i64::MAX), vec![1i64])];
    let err = reduce_window(named("checked_add", &CHECKED_ADD), &flat(overflow)).unwrap_err();
    assert_eq!(err, "step `checked_add`: overflow");
    let wrong = vec![(None, vec![enc(1i64), enc("two")])];
    let err = reduce_window(named("add", &ADD), &flat(wrong)).unwrap_err();
    assert!(
        err.starts_with("step `add`: cannot decode an item as `i64`"),
        "{err}"
    );
}
