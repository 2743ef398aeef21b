//! The wasmtime host. One `Engine` for the process; each policy version compiled once
//! (wasmtime's artifact cache keeps the machine code on disk, keyed by the module's bytes
//! and the engine configuration) into a pre-instantiated handle; every call gets a fresh
//! `Store` and instance from the pooling allocator, so no state leaks between users.
//!
//! Every call is bounded: a deadline (enforced through epoch interruption; see `watchdog`),
//! a memory cap with `trap_on_grow_failure` (so running out of memory is told apart from
//! other traps), and a cap on output size. A deny is a decision; a trap is a
//! [`PolicyFailure`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, HasSelf, Instance, InstancePre, Lift,
    Linker, TypedFunc,
};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};

use super::input::{ClientInput, Phase, PolicyInput};
use super::watchdog::{Watchdog, on_tick};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../schema/wit",
        world: "policy",
    });
}

use bindings::Policy;
use bindings::lanyard::policy::log as wit_log;
use bindings::lanyard::policy::types as wit;

/// Most log lines one call may write; a chatty policy cannot flood the logs.
const MAX_LOG_LINES: u32 = 32;
const MAX_LOG_LINE: usize = 1024;
/// Instances alive at once: calls last microseconds, so this is far above need.
const POOL_INSTANCES: u32 = 256;

/// How long a call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The configured deadline.
    Full,
    /// [`INLINE_BUDGET`]: plenty for a well-behaved policy (they answer in microseconds),
    /// short enough to run on an async worker without stalling the server.
    Inline,
}

/// The inline budget. It is noticed at the watchdog's next tick, so a call that overruns it
/// holds its thread for at most this plus one tick.
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

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
}

/// Why a module was refused at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a valid policy component: {0}")]
    Invalid(String),
    #[error("the component does not implement the lanyard:policy world: {0}")]
    WrongWorld(String),
}

/// A loaded, type-checked policy version.
pub struct CompiledPolicy {
    /// Shared with every call's store and decision-log entry, which clone it per call.
    pub name: Arc<str>,
    /// sha256 of the module bytes, hex: the version's name.
    pub digest: Arc<str>,
    pre: InstancePre<HostState>,
    /// The two exports, found once. A call type-checks only the one it makes (bindgen's
    /// wrapper checks both at every instantiation); `compile` checked both.
    consent: ComponentExportIndex,
    token: ComponentExportIndex,
    /// Until when (ms on [`MONOTONIC`]) this version's calls skip the inline attempt and go
    /// straight to the blocking pool, because a call took longer than the inline budget
    /// even with a thread of its own. It expires, so a version that was slow on a few
    /// inputs gets its inline attempts back.
    slow_until: AtomicU64,
}

/// How long a version that proved slow is kept off the async workers.
const SLOW_FOR: Duration = Duration::from_secs(10);

static MONOTONIC: LazyLock<Instant> = LazyLock::new(Instant::now);

fn monotonic_ms() -> u64 {
    MONOTONIC.elapsed().as_millis() as u64
}

impl CompiledPolicy {
    pub fn is_slow(&self) -> bool {
        monotonic_ms() < self.slow_until.load(Ordering::Relaxed)
    }

    pub fn mark_slow(&self) {
        let now = monotonic_ms();
        if self
            .slow_until
            .swap(now + SLOW_FOR.as_millis() as u64, Ordering::Relaxed)
            < now
        {
            tracing::info!(policy = %self.name, digest = %self.digest, "policy call took longer than the inline budget; its calls run on the blocking pool for {}s", SLOW_FOR.as_secs());
        }
    }
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
    limits: StoreLimits,
    deadline: Instant,
    policy: Arc<str>,
    digest: Arc<str>,
    logged: u32,
}

impl wit::Host for HostState {}

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

/// A decision as the guest gave it, checked for shape but not yet against the request.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDecision {
    Allow {
        drop_scopes: Vec<String>,
        notices: Vec<String>,
        claims: Vec<(String, Value)>,
    },
    Deny(String),
}

pub struct PolicyEngine {
    engine: Engine,
    limits: Limits,
    watchdog: Arc<Watchdog>,
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
        let watchdog = Watchdog::start(engine.weak())?;
        Ok(Arc::new(Self {
            engine,
            limits,
            watchdog,
        }))
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
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let export = |name: &str| {
            component
                .get_export_index(None, name)
                .ok_or_else(|| LoadError::WrongWorld(format!("it exports no `{name}`")))
        };
        let policy = CompiledPolicy {
            name: name.into(),
            digest: digest_hex(bytes).into(),
            consent: export("consent")?,
            token: export("token")?,
            pre,
            slow_until: AtomicU64::new(0),
        };
        self.check_exports(&policy)?;
        Ok(policy)
    }

    /// Instantiates a new version once and type-checks both exports against the world, so
    /// that a component built for another version of the WIT (same names, other types) is
    /// refused here rather than failing every call once it is active. The instance runs
    /// under the full deadline, like a call: a start function that spins is stopped.
    fn check_exports(&self, policy: &CompiledPolicy) -> Result<(), LoadError> {
        let _running = self.watchdog.enter();
        let mut store = self.store(policy, Budget::Full);
        let refused = |e: wasmtime::Error| LoadError::WrongWorld(format!("{e:#}"));
        let instance = policy.pre.instantiate(&mut store).map_err(refused)?;
        export::<wit::ConsentDecision>(&mut store, &instance, &policy.consent).map_err(refused)?;
        export::<wit::TokenDecision>(&mut store, &instance, &policy.token).map_err(refused)?;
        Ok(())
    }

    /// A fresh store for one call of `policy`, with its limits and deadline.
    fn store(&self, policy: &CompiledPolicy, budget: Budget) -> Store<HostState> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            limits,
            deadline: Instant::now()
                + match budget {
                    Budget::Full => self.limits.deadline,
                    Budget::Inline => INLINE_BUDGET,
                },
            policy: policy.name.clone(),
            digest: policy.digest.clone(),
            logged: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // Every tick reaches the guest; it stops only once its own deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| Ok(on_tick(ctx.data().deadline)));
        store
    }

    /// Runs one phase of one policy under `budget`.
    pub fn call(
        &self,
        policy: &CompiledPolicy,
        input: &GuestInput,
        budget: Budget,
    ) -> Result<RawDecision, PolicyFailure> {
        let _running = self.watchdog.enter();
        let mut store = self.store(policy, budget);
        let instance = policy.pre.instantiate(&mut store).map_err(classify)?;
        let cap = self.limits.output_bytes;
        let request = (&input.request,);
        match input.phase {
            Phase::Consent => {
                let consent =
                    export::<wit::ConsentDecision>(&mut store, &instance, &policy.consent);
                let (decision,) = consent
                    .and_then(|f| f.call(&mut store, request))
                    .map_err(classify)?;
                from_consent(decision, cap)
            }
            Phase::Token => {
                let token = export::<wit::TokenDecision>(&mut store, &instance, &policy.token);
                let (decision,) = token
                    .and_then(|f| f.call(&mut store, request))
                    .map_err(classify)?;
                from_token(decision, cap)
            }
        }
    }
}

/// One of the world's exports, type-checked as taking the request and answering `D`.
fn export<'r, D>(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: &ComponentExportIndex,
) -> wasmtime::Result<TypedFunc<(&'r wit::Request,), (D,)>>
where
    (D,): ComponentNamedList + Lift,
{
    instance.get_typed_func(store, index)
}

pub fn digest_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn classify(e: wasmtime::Error) -> PolicyFailure {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PolicyFailure::Timeout,
        Some(Trap::OutOfFuel) => PolicyFailure::Timeout,
        Some(t) => PolicyFailure::Trap(t.to_string()),
        None => {
            let text = format!("{e:#}");
            // StoreLimits with trap_on_grow_failure reports a refused grow as an error.
            if text.contains("memory")
                && (text.contains("grow") || text.contains("limit") || text.contains("resource"))
            {
                PolicyFailure::OutOfMemory
            } else {
                // The last line of the chain names the cause (e.g. a WASI import the
                // policy is not allowed to use); the backtrace above it is noise here.
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
}

/// A chain's input in the guest's own types, built once per chain straight from the records
/// it comes from (the user's metadata is copied once, as the text the store holds); each
/// call in the chain gets the scopes still in play and its own binding's config.
pub struct GuestInput {
    phase: Phase,
    /// The scopes the chain started with: a chain abandoned part-way (see `Budget::Inline`)
    /// starts again from these.
    requested: Vec<String>,
    request: wit::Request,
}

/// The user as a chain sees them, borrowed from wherever they are stored.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    /// JSON text as the store holds it; anything but an object reads as `{}`.
    pub metadata: &'a str,
}

impl GuestInput {
    pub fn new(
        phase: Phase,
        grant_type: Option<&str>,
        user: UserView<'_>,
        client: ClientInput,
        resource: &str,
        scopes: Vec<String>,
        now: i64,
    ) -> Self {
        let grant_type = match (phase, grant_type) {
            (Phase::Token, Some("authorization_code")) => Some(wit::GrantType::AuthorizationCode),
            (Phase::Token, Some("refresh_token")) => Some(wit::GrantType::RefreshToken),
            _ => None,
        };
        // The store only writes objects (or `{}`), and JSON text that opens with a brace
        // can be nothing else; text that is not JSON at all reaches the policy, which
        // refuses it as malformed metadata rather than mistaking it for none.
        let metadata = if user.metadata.trim_start().starts_with('{') {
            user.metadata.to_string()
        } else {
            "{}".to_string()
        };
        Self {
            phase,
            request: wit::Request {
                grant_type,
                user: wit::User {
                    sub: user.sub.to_string(),
                    email: user.email.to_string(),
                    email_verified: user.email_verified,
                    metadata,
                },
                client: wit::Client {
                    id: client.id,
                    name: client.name,
                },
                resource: resource.to_string(),
                scopes: scopes.clone(),
                config: String::new(),
                now,
            },
            requested: scopes,
        }
    }

    /// A `lanyard policy test` fixture, config included.
    pub fn from_fixture(input: &PolicyInput) -> Self {
        let metadata = input.user.metadata.to_string();
        let user = UserView {
            sub: &input.user.sub,
            email: &input.user.email,
            email_verified: input.user.email_verified,
            metadata: &metadata,
        };
        let mut guest = Self::new(
            input.phase,
            input.grant_type.as_deref(),
            user,
            input.client.clone(),
            &input.resource,
            input.scopes.clone(),
            input.now,
        );
        guest.set_config(&input.config.to_string());
        guest
    }

    pub fn resource(&self) -> &str {
        &self.request.resource
    }

    /// The scopes still in play.
    pub fn scopes(&self) -> &[String] {
        &self.request.scopes
    }

    /// Back to the scopes the chain started with.
    pub fn restart(&mut self) {
        self.request.scopes.clone_from(&self.requested);
    }

    /// Takes `dropped` out of play for the calls after this one.
    pub fn drop_scopes(&mut self, dropped: &[String]) {
        self.request.scopes.retain(|s| !dropped.contains(s));
    }

    /// The binding's config, as JSON text.
    pub fn set_config(&mut self, json: &str) {
        self.request.config.clear();
        self.request.config.push_str(json);
    }
}

/// The output cap is checked on the guest's own values, before anything is parsed.
fn over_cap(size: usize, cap: usize) -> Result<(), PolicyFailure> {
    if size > cap {
        return Err(PolicyFailure::BadOutput(format!(
            "output of {size} bytes exceeds the {cap}-byte cap"
        )));
    }
    Ok(())
}

fn text_len(list: &[String]) -> usize {
    list.iter().map(String::len).sum()
}

fn from_consent(d: wit::ConsentDecision, cap: usize) -> Result<RawDecision, PolicyFailure> {
    match d {
        wit::ConsentDecision::Allow(o) => {
            over_cap(text_len(&o.drop_scopes) + text_len(&o.notices), cap)?;
            Ok(RawDecision::Allow {
                drop_scopes: o.drop_scopes,
                notices: o.notices,
                claims: Vec::new(),
            })
        }
        wit::ConsentDecision::Deny(reason) => {
            over_cap(reason.len(), cap)?;
            Ok(RawDecision::Deny(reason))
        }
    }
}

fn from_token(d: wit::TokenDecision, cap: usize) -> Result<RawDecision, PolicyFailure> {
    match d {
        wit::TokenDecision::Allow(o) => {
            let claims_len: usize = o
                .claims
                .iter()
                .map(|c| c.name.len() + claim_len(&c.value))
                .sum();
            over_cap(text_len(&o.drop_scopes) + claims_len, cap)?;
            let claims = o
                .claims
                .into_iter()
                .map(|c| Ok((c.name, claim_value(c.value)?)))
                .collect::<Result<Vec<_>, PolicyFailure>>()?;
            Ok(RawDecision::Allow {
                drop_scopes: o.drop_scopes,
                notices: Vec::new(),
                claims,
            })
        }
        wit::TokenDecision::Deny(reason) => {
            over_cap(reason.len(), cap)?;
            Ok(RawDecision::Deny(reason))
        }
    }
}

/// About what the value adds to a token, without serialising it.
fn claim_len(v: &wit::ClaimValue) -> usize {
    match v {
        wit::ClaimValue::Text(s) | wit::ClaimValue::Json(s) => s.len(),
        wit::ClaimValue::Integer(_) => 20,
        wit::ClaimValue::Boolean(_) => 5,
        wit::ClaimValue::Texts(list) => text_len(list) + 3 * list.len(),
    }
}

fn claim_value(v: wit::ClaimValue) -> Result<Value, PolicyFailure> {
    Ok(match v {
        wit::ClaimValue::Text(s) => Value::String(s),
        wit::ClaimValue::Integer(i) => Value::from(i),
        wit::ClaimValue::Boolean(b) => Value::Bool(b),
        wit::ClaimValue::Texts(list) => Value::Array(list.into_iter().map(Value::String).collect()),
        wit::ClaimValue::Json(text) => serde_json::from_str(&text)
            .map_err(|_| PolicyFailure::BadOutput("a json claim value does not parse".into()))?,
    })
}
