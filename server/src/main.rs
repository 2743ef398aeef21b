//! The `lanyard` command line: parses, then calls into the library.

use clap::{Parser, Subcommand};
use lanyard::admin::clients::NewClient;
use lanyard::cli;

#[derive(Parser)]
#[command(
    name = "lanyard",
    version,
    about = "OAuth 2.1 authorization server for MCP apps"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the embedded store unless production URLs are configured).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Test, preview and audit WebAssembly policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show the audit log: every admin change (API or CLI), newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Older entries: the cursor the previous page printed.
        #[arg(long)]
        before: Option<String>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run one policy on one input fixture and print its decision as JSON.
    Test {
        module: std::path::PathBuf,
        input: std::path::PathBuf,
    },
    /// Preview what the bound policies decide for a real user, client and resource.
    Eval {
        #[arg(long)]
        user: String,
        /// Ids made before they were kept from starting with `-` may still do so.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        #[arg(long)]
        resource: String,
    },
    /// Production store: check a module and make it the version every instance runs
    /// (by default the module lanyard.toml binds under that name).
    Push {
        name: String,
        module: Option<std::path::PathBuf>,
    },
    /// Production store: make the version before the active one active again.
    Rollback { name: String },
    /// Production store: a policy's versions, the active one first.
    Versions { name: String },
    /// Show the decision log: the most recent mints, or the one that minted a token.
    Log {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// An access token: show the decision behind it (found by its jti and iat).
        #[arg(long, conflicts_with = "jti")]
        token: Option<String>,
        /// A jti: show the decision behind it (searches the whole log).
        #[arg(long, allow_hyphen_values = true)]
        jti: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input unless --password is given.
    Add {
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Every user, one JSON line each.
    List,
    /// Delete a user with their consents and grants; their access tokens are refused.
    Delete { email: String },
    /// Operator-defined metadata that policies read.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Remove a user's second factors, recovery codes and passkeys (a lost phone): the next
    /// sign-in asks for the password alone, or to enrol again under LANYARD_MFA=required.
    ResetMfa { email: String },
    /// Mark a user's email address as verified.
    Verify { email: String },
    /// Disable an account: it cannot sign in, its refresh tokens stop working, and every
    /// browser session it has ends.
    Disable { email: String },
    /// Enable a disabled account again.
    Enable { email: String },
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Replace a user's metadata with a JSON object.
    Set { email: String, json: String },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client. Public (PKCE only) unless --confidential.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long)]
        confidential: bool,
        #[arg(long)]
        scope: Option<String>,
        /// A resource this client serves; it gets a secret and may introspect that resource's tokens.
        #[arg(long = "resource-server")]
        resource_server: Vec<String>,
        /// The client gets tokens for itself (the client_credentials grant), for its --scope;
        /// it gets a secret.
        #[arg(long = "client-credentials")]
        client_credentials: bool,
        /// The client may call the admin API with these scopes (admin:users, admin:clients,
        /// admin:grants, admin:keys, admin:policies, admin:read); it gets a secret.
        #[arg(long = "admin-scopes", value_delimiter = ',', num_args = 1..)]
        admin_scopes: Vec<lanyard::domain::AdminScope>,
    },
    List,
    /// Replace a client's secret; the new one is printed once.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    Remove {
        /// Ids made before they were kept from starting with `-` may still do so.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Promote the published next key to signing, and publish a new next key.
    Rotate,
    List,
}

fn main() -> std::process::ExitCode {
    cli::init_logging();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lanyard: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lanyard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One arm per subcommand, each a call into the library: long only because there are many.
async fn run(args: Args) -> anyhow::Result<()> {
    // A fixture test needs no configuration or store.
    if let Command::Policy(PolicyCommand::Test { module, input }) = &args.command {
        return cli::policy_test(module, input).await;
    }
    let config = cli::load_config()?;
    match args.command {
        Command::Serve => cli::serve(config).await,
        Command::Migrate => cli::migrate(config).await,
        Command::User(UserCommand::Add { email, password }) => {
            cli::user_add(config, &email, password).await
        }
        Command::User(UserCommand::ResetMfa { email }) => cli::user_reset_mfa(config, &email).await,
        Command::User(UserCommand::Metadata(MetadataCommand::Set { email, json })) => {
            cli::user_metadata_set(config, &email, &json).await
        }
        Command::User(UserCommand::Verify { email }) => {
            cli::user_change(config, &email, cli::UserChange::Verify).await
        }
        Command::User(UserCommand::Disable { email }) => {
            cli::user_change(config, &email, cli::UserChange::Disable).await
        }
        Command::User(UserCommand::Enable { email }) => {
            cli::user_change(config, &email, cli::UserChange::Enable).await
        }
        Command::User(UserCommand::List) => cli::user_list(config).await,
        Command::User(UserCommand::Delete { email }) => cli::user_delete(config, &email).await,
        Command::Client(ClientCommand::Add {
            name,
            redirect_uris,
            confidential,
            scope,
            resource_server,
            client_credentials,
            admin_scopes,
        }) => {
            let new = NewClient {
                client_name: name,
                redirect_uris,
                confidential,
                scope,
                resource_server,
                client_credentials,
                admin_scopes,
            };
            cli::client_add(config, new).await
        }
        Command::Client(ClientCommand::RotateSecret { client_id }) => {
            cli::client_rotate_secret(config, &client_id).await
        }
        Command::Audit { limit, before } => cli::audit(config, limit, before.as_deref()).await,
        Command::Client(ClientCommand::List) => cli::client_list(config).await,
        Command::Client(ClientCommand::Remove { client_id }) => {
            cli::client_remove(config, &client_id).await
        }
        Command::Keys(KeysCommand::Rotate) => cli::keys_rotate(config).await,
        Command::Keys(KeysCommand::List) => cli::keys_list(config).await,
        Command::Policy(PolicyCommand::Test { module, input }) => {
            cli::policy_test(&module, &input).await
        }
        Command::Policy(PolicyCommand::Eval {
            user,
            client,
            resource,
        }) => cli::policy_eval(config, &user, &client, &resource).await,
        Command::Policy(PolicyCommand::Push { name, module }) => {
            cli::policy_push(config, &name, module.as_deref()).await
        }
        Command::Policy(PolicyCommand::Rollback { name }) => {
            cli::policy_rollback(config, &name).await
        }
        Command::Policy(PolicyCommand::Versions { name }) => {
            cli::policy_history(config, &name).await
        }
        Command::Policy(PolicyCommand::Log { limit, token, jti }) => {
            let lookup = match (token, jti) {
                (Some(token), _) => Some(cli::LogLookup::Token(token)),
                (None, Some(jti)) => Some(cli::LogLookup::Jti(jti)),
                (None, None) => None,
            };
            cli::policy_log(config, limit, lookup).await
        }
    }
}
