//! The wit-bindgen bindings of `wit/steps.wit`, generated here once so that user crates
//! depend on `bytewax-guest` alone: the export macro and the runtime are reached through
//! this crate's paths.

wit_bindgen::generate!({
    world: "step-component",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "__export_step_component",
    default_bindings_module: "bytewax_guest::__private::bindings",
    runtime_path: "bytewax_guest::__private::wit_bindgen::rt",
});
