//! The wasmtime host. One `Engine` for the process; each policy version compiled once
//! (wasmtime's artifact cache keeps the machine code on disk, keyed by the module's bytes
//! and the engine configuration) into a pre-instantiated handle; every call gets a fresh
//! `Store` and instance from the pooling allocator, so no state leaks between users.
//!
//! Every call is bounded: an epoch deadline (a ticker thread advances the epoch), a memory
//! cap with `trap_on_grow_failure` (so running out of memory is told apart from other
//! traps), and a cap on output size. A deny is a decision; a trap is a [`PolicyFailure`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};

use super::input::{Phase, PolicyInput};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../schema/wit",
        world: "policy",
    });
}

use bindings::lanyard::policy::log as wit_log;
use bindings::lanyard::policy::types as wit;
use bindings::{Policy, PolicyPre};

/// How often the epoch advances; deadlines are whole ticks.
const TICK: Duration = Duration::from_millis(1);
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
    /// A couple of ticks: enough for any well-behaved policy (they answer in microseconds),
    /// short enough to run on an async worker without stalling the server.
    Inline,
}

/// Ticks of the inline budget (1–2 ms).
const INLINE_TICKS: u64 = 2;

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
    pub name: String,
    /// sha256 of the module bytes, hex: the version's name.
    pub digest: String,
    pre: PolicyPre<HostState>,
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
    policy: String,
    digest: String,
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
        let (policy, digest) = (&self.policy, &self.digest[..self.digest.len().min(12)]);
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
    ticks: u64,
    /// Calls in flight; the epoch ticker sleeps while there are none, so an idle server
    /// does not wake a thousand times a second.
    busy: Arc<Busy>,
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
        let weak = engine.weak();
        let busy = Arc::new(Busy::default());
        let ticker_busy = busy.clone();
        std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                    ticker_busy.wait_for_work();
                }
            })?;
        // Epoch deadlines count wall-clock ticks; one extra tick absorbs the partial
        // first one, so a deadline never fires early.
        let ticks = (limits.deadline.as_millis() as u64 / TICK.as_millis() as u64).max(1) + 1;
        Ok(Arc::new(Self {
            engine,
            limits,
            ticks,
            busy,
        }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles and type-checks a module. Nothing is swapped in unless this succeeds.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<CompiledPolicy, LoadError> {
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        // A policy needs nothing from the host but logging. Rust's std links WASI
        // interfaces it never calls; those become traps, so the clock, randomness, files
        // and sockets stay out of reach. Anything else is refused outright.
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
        let pre = PolicyPre::new(pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        Ok(CompiledPolicy {
            name: name.to_string(),
            digest: digest_hex(bytes),
            pre,
        })
    }

    /// Runs one phase of one policy under `budget`.
    pub fn call(
        &self,
        policy: &CompiledPolicy,
        input: &PolicyInput,
        budget: Budget,
    ) -> Result<RawDecision, PolicyFailure> {
        let request = to_wit(input);
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            limits,
            policy: policy.name.clone(),
            digest: policy.digest.clone(),
            logged: 0,
        };
        let _running = self.busy.enter();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(match budget {
            Budget::Full => self.ticks,
            Budget::Inline => INLINE_TICKS,
        });
        store.epoch_deadline_trap();
        let instance = policy.pre.instantiate(&mut store).map_err(classify)?;
        let raw = match input.phase {
            Phase::Consent => from_consent(
                instance
                    .call_consent(&mut store, &request)
                    .map_err(classify)?,
            ),
            Phase::Token => from_token(
                instance
                    .call_token(&mut store, &request)
                    .map_err(classify)?,
            )?,
        };
        check_size(&raw, self.limits.output_bytes)?;
        Ok(raw)
    }
}

/// Counts calls in flight and lets the ticker sleep while there are none. A deadline is
/// counted from the epoch at the call's start, and the ticker resumes before the call runs,
/// so pausing never lets a call run past its deadline.
#[derive(Default)]
struct Busy {
    calls: std::sync::Mutex<u32>,
    work: std::sync::Condvar,
}

struct Running<'a>(&'a Busy);

impl Busy {
    fn enter(&self) -> Running<'_> {
        if let Ok(mut n) = self.calls.lock() {
            *n += 1;
            self.work.notify_one();
        }
        Running(self)
    }

    /// Blocks while no call is in flight (waking now and then to notice shutdown).
    fn wait_for_work(&self) {
        if let Ok(n) = self.calls.lock() {
            let _ = self
                .work
                .wait_timeout_while(n, Duration::from_secs(1), |n| *n == 0);
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.calls.lock() {
            *n = n.saturating_sub(1);
        }
    }
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

fn to_wit(input: &PolicyInput) -> wit::Request {
    let grant_type = match input.grant_type.as_deref() {
        Some("authorization_code") => Some(wit::GrantType::AuthorizationCode),
        Some("refresh_token") => Some(wit::GrantType::RefreshToken),
        _ => None,
    };
    wit::Request {
        grant_type: if input.phase == Phase::Token {
            grant_type
        } else {
            None
        },
        user: wit::User {
            sub: input.user.sub.clone(),
            email: input.user.email.clone(),
            email_verified: input.user.email_verified,
            metadata: input.user.metadata.to_string(),
        },
        client: wit::Client {
            id: input.client.id.clone(),
            name: input.client.name.clone(),
        },
        resource: input.resource.clone(),
        scopes: input.scopes.clone(),
        config: input.config.to_string(),
        now: input.now,
    }
}

fn from_consent(d: wit::ConsentDecision) -> RawDecision {
    match d {
        wit::ConsentDecision::Allow(o) => RawDecision::Allow {
            drop_scopes: o.drop_scopes,
            notices: o.notices,
            claims: Vec::new(),
        },
        wit::ConsentDecision::Deny(reason) => RawDecision::Deny(reason),
    }
}

fn from_token(d: wit::TokenDecision) -> Result<RawDecision, PolicyFailure> {
    match d {
        wit::TokenDecision::Allow(o) => {
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
        wit::TokenDecision::Deny(reason) => Ok(RawDecision::Deny(reason)),
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

fn check_size(d: &RawDecision, cap: usize) -> Result<(), PolicyFailure> {
    let size = match d {
        RawDecision::Deny(r) => r.len(),
        RawDecision::Allow {
            drop_scopes,
            notices,
            claims,
        } => {
            drop_scopes.iter().map(String::len).sum::<usize>()
                + notices.iter().map(String::len).sum::<usize>()
                + claims
                    .iter()
                    .map(|(k, v)| k.len() + v.to_string().len())
                    .sum::<usize>()
        }
    };
    if size > cap {
        return Err(PolicyFailure::BadOutput(format!(
            "output of {size} bytes exceeds the {cap}-byte cap"
        )));
    }
    Ok(())
}

/// Claims as a JSON object, later entries overriding earlier ones.
pub fn claims_map(claims: &[(String, Value)]) -> Map<String, Value> {
    claims.iter().cloned().collect()
}
