//! The epoch clock that bounds how long a policy call may run.
//!
//! One thread advances the engine's epoch every [`TICK`] for as long as the engine lives.
//! Each time the epoch moves while a call runs, the call spends one tick of its allowance
//! (its deadline, in whole ticks) and yields to the async runtime, carrying on at its next
//! turn; once the allowance is spent it is interrupted (a timeout). So a policy that spins
//! holds its worker thread for at most one tick at a time, other requests are served
//! meanwhile, and a call is charged only for the time it runs: on a busy server, waiting
//! for its next turn never makes a well-behaved policy time out.

use std::time::Duration;

use wasmtime::{EngineWeak, UpdateDeadline};

/// How often the epoch moves: the longest a spinning policy holds a worker between yields,
/// and the granularity of its deadline.
pub const TICK: Duration = Duration::from_millis(5);

/// Starts the thread; it exits once the engine is dropped.
pub fn start(engine: EngineWeak) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("policy-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })?;
    Ok(())
}

/// A deadline as the ticks a call may see, rounded up: the call is stopped after running
/// for more than `ticks - 1` and at most `ticks` ticks.
pub fn allowance(deadline: Duration) -> u32 {
    let ticks = deadline.as_nanos().div_ceil(TICK.as_nanos()).max(1);
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// What a store does when the epoch moves during its call: spend a tick of `left`; with
/// some left, let the runtime's other tasks run first, else stop.
pub fn on_tick(left: &mut u32) -> UpdateDeadline {
    *left = left.saturating_sub(1);
    if *left == 0 {
        UpdateDeadline::Interrupt
    } else {
        // tokio's own yield puts the task behind the others already queued on this worker;
        // a bare self-wake could be polled again at once.
        UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

    use super::*;

    /// `(module (func (export "spin") (loop (br 0))))`
    const SPIN: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
        0x03, 0x02, 0x01, 0x00, // func 0 has type 0
        0x07, 0x08, 0x01, 0x04, b's', b'p', b'i', b'n', 0x00, 0x00, // export "spin"
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0
    ];

    #[test]
    fn a_deadline_is_rounded_up_to_whole_ticks() {
        assert_eq!(allowance(Duration::ZERO), 1);
        assert_eq!(allowance(Duration::from_millis(1)), 1);
        assert_eq!(allowance(TICK), 1);
        assert_eq!(allowance(TICK + Duration::from_nanos(1)), 2);
        assert_eq!(allowance(TICK * 10), 10);
    }

    /// On a runtime with a single worker, a spinning guest must still let another task run
    /// before its deadline, and must be stopped once its allowance is spent.
    #[tokio::test(flavor = "current_thread")]
    async fn a_spinning_guest_yields_to_other_tasks_and_stops_at_its_deadline() {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        start(engine.weak()).unwrap();
        let module = Module::new(&engine, SPIN).unwrap();

        let deadline = Duration::from_millis(60);
        let started = Instant::now();
        let mut store = Store::new(&engine, allowance(deadline));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| Ok(on_tick(ctx.data_mut())));
        let instance = Instance::new_async(&mut store, &module, &[]).await.unwrap();
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .unwrap();

        let other_ran = Arc::new(AtomicBool::new(false));
        let flag = other_ran.clone();
        let other = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        let err = spin.call_async(&mut store, ()).await.unwrap_err();
        let took = started.elapsed();

        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
        assert!(other_ran.load(Ordering::SeqCst), "the guest never yielded");
        other.await.unwrap();
        assert!(took >= deadline - TICK, "interrupted early, after {took:?}");
        // A tick or two late at most; the bound is loose for a loaded machine.
        assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
    }
}
