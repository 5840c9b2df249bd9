//! The component's exported interface, implemented once for any table of steps.

use crate::dispatch;
use crate::groups;
use crate::step::StepDef;
use crate::wit::{Batch, ChainError, GroupResults, Groups, Guest, StepInfo};

/// The steps one component exports; `export_steps!` implements it.
pub trait StepTable {
    /// The steps, in the order `describe` reports them.
    const STEPS: &'static [&'static StepDef];
}

impl<T: StepTable> Guest for T {
    fn describe() -> Vec<StepInfo> {
        dispatch::describe(T::STEPS)
    }

    fn chain(steps: Vec<String>, items: Batch) -> Result<Batch, ChainError> {
        dispatch::chain(T::STEPS, &steps, items)
    }

    fn chain_combine(steps: Vec<String>, reducer: String, items: Batch) -> Result<Batch, ChainError> {
        dispatch::chain_combine(T::STEPS, &steps, &reducer, items)
    }

    fn filter(step: String, items: Batch) -> Result<Vec<bool>, String> {
        dispatch::verdicts(dispatch::filter(T::STEPS, &step)?, &items)
    }

    fn stateful_map(builder: String, mapper: String, groups: Groups) -> Result<GroupResults, String> {
        let builder = dispatch::builder(T::STEPS, &builder)?;
        let mapper = dispatch::stateful_mapper(T::STEPS, &mapper)?;
        groups::stateful_map(builder, mapper, &groups)
    }

    fn reduce(reducer: String, is_complete: String, groups: Groups) -> Result<GroupResults, String> {
        let reducer = dispatch::reducer(T::STEPS, &reducer)?;
        let is_complete = dispatch::is_complete(T::STEPS, &is_complete)?;
        groups::reduce(reducer, is_complete, &groups)
    }

    fn reduce_window(reducer: String, groups: Groups) -> Result<Batch, String> {
        groups::reduce_window(dispatch::reducer(T::STEPS, &reducer)?, &groups)
    }

    fn fold_window(builder: String, folder: String, groups: Groups) -> Result<Batch, String> {
        let builder = dispatch::builder(T::STEPS, &builder)?;
        let folder = dispatch::folder(T::STEPS, &folder)?;
        groups::fold_window(builder, folder, &groups)
    }

    fn event_time(step: String, items: Batch) -> Result<Vec<i64>, String> {
        dispatch::verdicts(dispatch::event_time(T::STEPS, &step)?, &items)
    }
}

/// Lists a component's steps once and exports them as the `bytewax:steps/steps`
/// interface: `bytewax_guest::export_steps!(tokenize, lower, initial_count, add);`
///
/// Each name is a function carrying one of the step attributes (`#[map]`, `#[reducer]`…),
/// given as a path when it lives in another module (`steps::tokenize`). The macro defines
/// a unit struct `BytewaxSteps` implementing the interface; on `wasm32` targets it also
/// emits the component's exports, so a native `cargo test` of the same crate links fine.
#[macro_export]
macro_rules! export_steps {
    ($( $($segment:ident)::+ ),+ $(,)?) => {
        /// The steps this component exports, in the order `export_steps!` lists them.
        pub struct BytewaxSteps;

        impl $crate::__private::StepTable for BytewaxSteps {
            const STEPS: &'static [&'static $crate::__private::StepDef] =
                &[$( & $($segment)::+ ::STEP ),+];
        }

        #[cfg(target_arch = "wasm32")]
        $crate::__private::bindings::__export_step_component!(BytewaxSteps);
    };
}
