//! The wasmtime host. One `Engine` for the process; each policy version compiled once
//! (wasmtime's artifact cache keeps the machine code on disk, keyed by the module's bytes
//! and the engine configuration) into a pre-instantiated handle; every call gets a fresh
//! `Store` and instance from the pooling allocator, so no state leaks between users.
//!
//! Every call runs on the async worker that asked for it, and is bounded: a deadline
//! (epoch interruption, with a yield to the runtime at every tick; see `epoch`), a memory
//! cap with `trap_on_grow_failure`, and a cap on output size. A deny is a [`Decision`]; a
//! trap is a [`PolicyFailure`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, HasSelf, Instance, InstancePre, Lift,
    Linker, TypedFunc,
};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};

use super::bindings::lanyard::policy::log as wit_log;
use super::bindings::lanyard::policy::types as wit;
use super::bindings::{Policy, PolicyIndices};
use super::bindings_0_1::lanyard::policy::{log as wit_log_0_1, types as wit_0_1};
use super::epoch;
use super::guest::{GuestInput, from_consent, from_token};
use super::input::{Decision, Phase};

/// Most log lines one call may write; a chatty policy cannot flood the logs.
const MAX_LOG_LINES: u32 = 32;
const MAX_LOG_LINE: usize = 1024;
/// Instances alive at once: calls last microseconds, so this is far above need.
const POOL_INSTANCES: u32 = 256;

/// Per-call bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(50),
            memory_bytes: 16 << 20,
            output_bytes: 64 << 10,
        }
    }
}

/// Why a policy gave no decision. Fails closed unless its binding says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyFailure {
    #[error("policy exceeded its deadline")]
    Timeout,
    #[error("policy exceeded its memory limit")]
    OutOfMemory,
    #[error("policy trapped: {0}")]
    Trap(String),
    /// It answered, but the answer broke the rules (reserved claim, added scope, too big).
    #[error("policy returned bad output: {0}")]
    BadOutput(String),
    /// The policy's world cannot express this call.
    #[error("policy cannot be called: {0}")]
    Unsupported(&'static str),
}

/// Why a module was refused at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a valid policy component: {0}")]
    Invalid(String),
    #[error("the component does not implement the lanyard:policy world: {0}")]
    WrongWorld(String),
}

/// The version of the world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `lanyard:policy@0.2.0`, the current one.
    Current,
    /// `lanyard:policy@0.1.0`: its user record has no sign-in facts, which such a
    /// component is simply not given.
    V0_1,
}

/// A loaded, type-checked policy version.
pub struct CompiledPolicy {
    /// Shared with every call's store and decision-log entry, which clone it per call.
    pub name: Arc<str>,
    /// sha256 of the module bytes, hex: the version's name.
    pub digest: Arc<str>,
    pre: InstancePre<HostState>,
    world: World,
    /// The two exports, found and type-checked once at compile time; a call looks up only
    /// the one it makes.
    consent: ComponentExportIndex,
    token: ComponentExportIndex,
}

impl std::fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish()
    }
}

/// Per-call store data.
pub struct HostState {
    memory_cap: usize,
    /// Epoch ticks the call may still see (see `epoch`).
    ticks_left: u32,
    policy: Arc<str>,
    digest: Arc<str>,
    logged: u32,
}

impl wit::Host for HostState {}
impl wit_0_1::Host for HostState {}

/// A grow past the memory cap, told apart from other traps by its type.
#[derive(Debug, thiserror::Error)]
#[error("memory cap reached")]
struct MemoryCapReached;

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // An error, not `Ok(false)`: a refused grow would hand the guest -1, and a guest
        // that ignores it fails later with some other trap.
        if desired > self.memory_cap {
            return Err(MemoryCapReached.into());
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// A 0.1.0 component's log lines go where the current world's do.
impl wit_log_0_1::Host for HostState {
    fn log(&mut self, level: wit_log_0_1::Level, message: String) {
        let level = match level {
            wit_log_0_1::Level::Debug => wit_log::Level::Debug,
            wit_log_0_1::Level::Info => wit_log::Level::Info,
            wit_log_0_1::Level::Warn => wit_log::Level::Warn,
            wit_log_0_1::Level::Error => wit_log::Level::Error,
        };
        wit_log::Host::log(self, level, message);
    }
}

impl wit_log::Host for HostState {
    fn log(&mut self, level: wit_log::Level, message: String) {
        if self.logged >= MAX_LOG_LINES {
            return;
        }
        self.logged += 1;
        let message: String = message.chars().take(MAX_LOG_LINE).collect();
        let (policy, digest) = (&*self.policy, &self.digest[..self.digest.len().min(12)]);
        match level {
            wit_log::Level::Debug => {
                tracing::debug!(target: "lanyard::policy::guest", policy, digest, "{message}")
            }
            wit_log::Level::Info => {
                tracing::info!(target: "lanyard::policy::guest", policy, digest, "{message}")
            }
            wit_log::Level::Warn => {
                tracing::warn!(target: "lanyard::policy::guest", policy, digest, "{message}")
            }
            wit_log::Level::Error => {
                tracing::error!(target: "lanyard::policy::guest", policy, digest, "{message}")
            }
        }
    }
}

pub struct PolicyEngine {
    engine: Engine,
    limits: Limits,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("limits", &self.limits)
            .finish()
    }
}

impl PolicyEngine {
    /// Builds the engine; `cache_dir` keeps compiled artifacts across restarts.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> anyhow::Result<Arc<Self>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES);
        pool.total_core_instances(POOL_INSTANCES * 4);
        pool.total_memories(POOL_INSTANCES * 2);
        pool.total_tables(POOL_INSTANCES * 2);
        pool.total_stacks(POOL_INSTANCES);
        pool.max_memory_size(limits.memory_bytes);
        // Keeping the pages a call touched resident, and resetting only those (found with
        // PAGEMAP_SCAN, Linux >= 6.7), spares each call the page faults and the madvise
        // TLB shootdowns that would otherwise dominate its cost.
        pool.linear_memory_keep_resident(2 << 20);
        pool.table_keep_resident(64 << 10);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = cache_dir {
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(dir);
            config.cache(Some(
                wasmtime::Cache::new(cc).map_err(|e| anyhow::anyhow!("{e}"))?,
            ));
        }
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        epoch::start(engine.weak())?;
        Ok(Arc::new(Self { engine, limits }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles and type-checks a module. Nothing is swapped in unless this succeeds.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<CompiledPolicy, LoadError> {
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        // A policy needs nothing from the host but logging. A component built without our
        // SDK may still import WASI interfaces that Rust's std links but never calls (the
        // SDK defines them as traps in the guest); those become traps here, so the clock,
        // randomness, files and sockets stay out of reach. Anything else is refused.
        let ty = component.component_type();
        for (import, _) in ty.imports(&self.engine) {
            if !(import.starts_with("lanyard:policy/") || import.starts_with("wasi:")) {
                return Err(LoadError::WrongWorld(format!(
                    "imports {import}, which the host does not provide"
                )));
            }
        }
        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        Policy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        super::bindings_0_1::Policy::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        // Both exports are type-checked against the world here, so that a component built
        // for another version of the WIT (same names, other types) is refused at load
        // rather than failing every call once it is active. The released 0.1.0 world is
        // still served.
        let world = match PolicyIndices::new(&pre) {
            Ok(_) => World::Current,
            Err(current) => match super::bindings_0_1::PolicyIndices::new(&pre) {
                Ok(_) => World::V0_1,
                Err(_) => return Err(LoadError::WrongWorld(format!("{current:#}"))),
            },
        };
        let export = |name: &str| {
            component
                .get_export_index(None, name)
                .ok_or_else(|| LoadError::WrongWorld(format!("it exports no `{name}`")))
        };
        Ok(CompiledPolicy {
            name: name.into(),
            digest: digest_hex(bytes).into(),
            consent: export("consent")?,
            token: export("token")?,
            world,
            pre,
        })
    }

    /// A fresh store for one call of `policy`, with its limits and deadline.
    fn store(&self, policy: &CompiledPolicy) -> Store<HostState> {
        let state = HostState {
            memory_cap: self.limits.memory_bytes,
            ticks_left: epoch::allowance(self.limits.deadline),
            policy: policy.name.clone(),
            digest: policy.digest.clone(),
            logged: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        // Every tick reaches the guest: it yields, and stops once its allowance is spent.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| Ok(epoch::on_tick(&mut ctx.data_mut().ticks_left)));
        store
    }

    /// Runs one phase of one policy, as the guest answers it (checked for size, not yet
    /// against the chain's rules).
    pub async fn call(
        &self,
        policy: &CompiledPolicy,
        input: &GuestInput,
    ) -> Result<Decision, PolicyFailure> {
        let mut store = self.store(policy);
        let instance = policy
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(classify)?;
        let cap = self.limits.output_bytes;
        match policy.world {
            World::Current => {
                run(
                    &mut store,
                    &instance,
                    policy,
                    input.phase,
                    &input.request,
                    cap,
                )
                .await
            }
            World::V0_1 => {
                let request = input_0_1(&input.request).ok_or(PolicyFailure::Unsupported(
                    "a policy built for lanyard:policy@0.1.0 cannot judge a client-credentials grant; rebuild it with the current SDK",
                ))?;
                run(&mut store, &instance, policy, input.phase, &request, cap).await
            }
        }
    }
}

/// Calls the phase's export with `request`, in the world's own request type. The decision
/// types of the two worlds are the same shapes, and the component model checks shapes,
/// not names, so one pair serves both.
async fn run<R>(
    store: &mut Store<HostState>,
    instance: &Instance,
    policy: &CompiledPolicy,
    phase: Phase,
    request: &R,
    cap: usize,
) -> Result<Decision, PolicyFailure>
where
    R: wasmtime::component::ComponentType + wasmtime::component::Lower + Sync,
{
    match phase {
        Phase::Consent => {
            let consent = export::<R, wit::ConsentDecision>(store, instance, &policy.consent)
                .map_err(classify)?;
            let (decision,) = consent
                .call_async(&mut *store, (request,))
                .await
                .map_err(classify)?;
            from_consent(decision, cap)
        }
        Phase::Token => {
            let token = export::<R, wit::TokenDecision>(store, instance, &policy.token)
                .map_err(classify)?;
            let (decision,) = token
                .call_async(&mut *store, (request,))
                .await
                .map_err(classify)?;
            from_token(decision, cap)
        }
    }
}

/// One of the world's exports, type-checked as taking the request `R` and answering `D`.
fn export<'r, R, D>(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: &ComponentExportIndex,
) -> wasmtime::Result<TypedFunc<(&'r R,), (D,)>>
where
    R: wasmtime::component::ComponentType + wasmtime::component::Lower + 'r,
    (D,): ComponentNamedList + Lift,
{
    instance.get_typed_func(store, index)
}

/// The request as a 0.1.0 component takes it: without the sign-in facts. `None` for a
/// client-credentials grant, which that world cannot express (it always has a user).
fn input_0_1(r: &wit::Request) -> Option<wit_0_1::Request> {
    let grant_type = match r.grant_type {
        Some(wit::GrantType::AuthorizationCode) => Some(wit_0_1::GrantType::AuthorizationCode),
        Some(wit::GrantType::RefreshToken) => Some(wit_0_1::GrantType::RefreshToken),
        Some(wit::GrantType::ClientCredentials) => return None,
        None => None,
    };
    let user = r.user.as_ref()?;
    Some(wit_0_1::Request {
        grant_type,
        user: wit_0_1::User {
            sub: user.sub.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            metadata: user.metadata.clone(),
        },
        client: wit_0_1::Client {
            id: r.client.id.clone(),
            name: r.client.name.clone(),
        },
        resource: r.resource.clone(),
        scopes: r.scopes.clone(),
        config: r.config.clone(),
        now: r.now,
    })
}

pub fn digest_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn classify(e: wasmtime::Error) -> PolicyFailure {
    if e.downcast_ref::<MemoryCapReached>().is_some() {
        return PolicyFailure::OutOfMemory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt | Trap::OutOfFuel) => PolicyFailure::Timeout,
        Some(t) => PolicyFailure::Trap(t.to_string()),
        None => {
            // The last line of the chain names the cause (e.g. a WASI import the policy is
            // not allowed to use); the backtrace above it is noise here.
            let text = format!("{e:#}");
            let cause = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("trap")
                .trim();
            PolicyFailure::Trap(cause.chars().take(300).collect())
        }
    }
}
