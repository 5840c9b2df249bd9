//! Steps for the host's tests (`runtime/tests/all/`): one of each kind with a known
//! answer, and three that misbehave (`spin`, `hog`, `crash`) to prove the host's CPU
//! deadline, memory cap and trap handling turn them into step errors; and three that reach
//! for the environment, the clock and files, which the sandbox withholds unless granted;
//! and reducers whose results show whether the host folded values early (`combining`).

mod ambient;
mod combining;
mod kinds;
mod misbehaving;

bytewax_guest::export_steps!(
    misbehaving::spin,
    misbehaving::hog,
    misbehaving::crash,
    kinds::echo,
    kinds::parse,
    kinds::is_even,
    kinds::maybe_half,
    kinds::explode,
    kinds::peek,
    kinds::count_builder,
    kinds::running_count,
    kinds::sum,
    kinds::at_least_10,
    kinds::list_builder,
    kinds::push,
    kinds::ts,
    kinds::add_readings,
    combining::key_by_initial,
    combining::join,
    combining::join_in_order,
    ambient::env_var,
    ambient::wall_millis,
    ambient::first_line,
);
