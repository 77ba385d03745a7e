//! The command line: clap definitions; each verb calls the library and maps the outcome to an
//! exit code (SPEC section 6): 0 success, 1 errors in the specs, 2 usage or I/O error, 3 drift.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostics::{self, render, Counts, Diagnostic};
use crate::source::Sources;

/// Exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const SPEC_ERRORS: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DRIFT: i32 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "trestle",
    version,
    about = "Compile platform specs (KDL) into Terraform, Kubernetes and Backstage artifacts",
    after_help = "Examples:\n  trestle init platform && trestle build platform --out platform/out\n  trestle validate specs/acme\n  trestle why specs/acme checkout-api.replicas --env prod\n  trestle explain T301\n\nExit codes: 0 success, 1 errors in the specs, 2 usage or I/O error, 3 `check` found drift."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Shells `trestle completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Flags every compiling verb takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Limit to these environments (repeatable; default all)
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// Diagnostics format
    #[arg(long, value_enum, default_value_t = render::Format::Human)]
    pub format: render::Format,
    /// Colour in human output (NO_COLOR also disables it)
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// The date for waiver expiry (default: SOURCE_DATE_EPOCH, else the clock)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
    /// Treat warnings as errors
    #[arg(long)]
    pub deny_warnings: bool,
    /// Repository URL for Backstage source-location annotations
    #[arg(long, value_name = "URL", value_parser = crate::emit::backstage::parse_source_url)]
    pub source_url: Option<String>,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, check, render in memory and run policies; writes nothing
    #[command(
        after_help = "Examples:\n  trestle validate specs/acme\n  trestle validate --format json\n  trestle validate specs/acme --format sarif > trestle.sarif"
    )]
    Validate {
        /// The spec tree (default: the current directory)
        root: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Compile and write artifacts to DIR (nothing is written when any error exists)
    #[command(
        after_help = "Examples:\n  trestle build specs/acme --out out\n  trestle build specs/acme --out out --env prod"
    )]
    Build {
        /// The spec tree (default: the current directory)
        root: Option<PathBuf>,
        /// The output directory
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Exit 3 and show a diff when DIR is not what `build` would write
    #[command(after_help = "Examples:\n  trestle check specs/acme --out out")]
    Check {
        /// The spec tree (default: the current directory)
        root: Option<PathBuf>,
        /// The output directory
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Show a unified diff of what `build` would change; writes nothing
    #[command(
        after_help = "Examples:\n  trestle diff specs/acme --out out\n  trestle diff specs/acme --out out --color always | less -R"
    )]
    Diff {
        /// The spec tree (default: the current directory)
        root: Option<PathBuf>,
        /// The output directory
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print the long explanation of a diagnostic code or rule
    #[command(
        after_help = "Examples:\n  trestle explain T301\n  trestle explain image-tag-pinned"
    )]
    Explain {
        /// A code such as T301, or a built-in rule id
        code: String,
    },
    /// List the built-in rules with their default severities
    #[command(after_help = "Examples:\n  trestle rules")]
    Rules,
    /// Draw one environment's dependency graph: workloads, resources, edges and waves
    #[command(
        after_help = "Examples:\n  trestle graph specs/acme --env prod | dot -Tsvg > prod.svg\n  trestle graph specs/acme --env prod --format mermaid\n  trestle graph --env dev --format json"
    )]
    Graph {
        /// The spec tree (default: the current directory)
        root: Option<PathBuf>,
        /// The environment to draw
        #[arg(long = "env", value_name = "NAME")]
        env: String,
        /// Graph format
        #[arg(long, value_enum, default_value_t = crate::graph::render::Format::Dot)]
        format: crate::graph::render::Format,
        /// Colour in diagnostics (NO_COLOR also disables it)
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Show the final value of a workload's field in one environment and every layer that set it
    #[command(
        override_usage = "trestle why [ROOT] WORKLOAD.FIELD --env NAME",
        after_help = "Fields: replicas, tags, owner, system, lifecycle, namespace, service, route, autoscale,\n  autoscale.min, container.NAME.image, container.NAME.args, container.NAME.env.KEY,\n  container.NAME.cpu, container.NAME.memory, resource.NAME.PARAM, resource.NAME.provisioner, ...\n\nExamples:\n  trestle why specs/acme checkout-api.replicas --env prod\n  trestle why checkout-api.container.main.image --env dev\n  trestle why specs/acme checkout-api.resource.db.size --env staging"
    )]
    Why {
        /// [ROOT] WORKLOAD.FIELD: the spec tree (default: the current directory) and the question
        #[arg(value_name = "ARGS", num_args = 1..=2, required = true)]
        args: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Format KDL spec files canonically (indentation, spacing), keeping comments
    #[command(
        after_help = "Files and folders are accepted; folders are walked like a spec tree (hidden folders,\noutput folders and `.trestleignore` entries are skipped).\n\nExamples:\n  trestle fmt specs/acme\n  trestle fmt --check specs/acme\n  trestle fmt apps/checkout/checkout-api.kdl"
    )]
    Fmt {
        /// Spec trees or files (default: the current directory)
        paths: Vec<PathBuf>,
        /// Change nothing; list the files that would change and exit 1 if there are any
        #[arg(long)]
        check: bool,
        /// Colour in human output (NO_COLOR also disables it)
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Write a starter spec tree (one team, two environments, one workload, one policy)
    #[command(
        after_help = "Refuses to overwrite existing files.\n\nExamples:\n  trestle init platform\n  trestle init platform && trestle build platform --out platform/out"
    )]
    Init {
        /// Where to write the starter tree (created when missing)
        dir: PathBuf,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  trestle completions bash > ~/.local/share/bash-completion/completions/trestle\n  trestle completions zsh > ~/.zfunc/_trestle\n  trestle completions fish > ~/.config/fish/completions/trestle.fish"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: Shell,
    },
}

impl Common {
    fn color(&self) -> bool {
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }

    pub(crate) fn init_threads(&self) {
        if let Some(n) = self.jobs {
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build_global();
        }
    }
}

/// Run the CLI with these arguments; returns the exit code.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    match cli.command {
        Command::Validate { root, common } => validate(root, &common),
        Command::Build { root, out, common } => emit(root, &out, &common, Mode::Build),
        Command::Check { root, out, common } => emit(root, &out, &common, Mode::Check),
        Command::Diff { root, out, common } => emit(root, &out, &common, Mode::Diff),
        Command::Explain { code } => explain(&code),
        Command::Rules => rules(),
        Command::Graph {
            root,
            env,
            format,
            color,
        } => crate::graph::render::cmd(root, &env, format, color_enabled(color)),
        Command::Why { args, common } => crate::why::cmd(&args, &common),
        Command::Fmt {
            paths,
            check,
            color,
        } => crate::format::cmd(&paths, check, color_enabled(color)),
        Command::Init { dir } => crate::init::cmd(&dir),
        Command::Completions { shell } => completions(shell),
    }
}

fn root_or_cwd(root: Option<PathBuf>) -> Result<PathBuf, i32> {
    let root = root.unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        eprintln!("error: `{}` is not a directory", root.display());
        return Err(exit::USAGE);
    }
    Ok(root)
}

/// Print diagnostics in the chosen format and the summary line (with `waived` findings that
/// waivers removed); returns the counts.
pub fn report(
    diags: &[Diagnostic],
    sources: &Sources,
    common: &Common,
    verb: &str,
    waived: usize,
) -> Counts {
    let counts = Counts {
        waived,
        ..Counts::of(diags)
    };
    let mut out = std::io::stdout().lock();
    let _ = match common.format {
        render::Format::Human => {
            let text = render::human(diags, sources, common.color());
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            writeln!(err, "{}", summary(verb, &counts, sources))
        }
        render::Format::Json => out.write_all(render::json(diags, sources).as_bytes()),
        render::Format::Sarif => out.write_all(render::sarif(diags, sources).as_bytes()),
        render::Format::Github => {
            let _ = out.write_all(render::github(diags, sources).as_bytes());
            writeln!(std::io::stderr(), "{}", summary(verb, &counts, sources))
        }
    };
    counts
}

fn summary(verb: &str, c: &Counts, sources: &Sources) -> String {
    let files = sources
        .iter()
        .filter(|(_, f)| f.origin == crate::source::Origin::Tree)
        .count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "trestle {verb}: {}, {}, {} waived ({})",
        plural(c.errors, "error"),
        plural(c.warnings, "warning"),
        c.waived,
        plural(files, "spec file"),
    )
}

fn exit_code(c: &Counts, common: &Common) -> i32 {
    if c.errors > 0 || (common.deny_warnings && c.warnings > 0) {
        exit::SPEC_ERRORS
    } else {
        exit::OK
    }
}

fn validate(root: Option<PathBuf>, common: &Common) -> i32 {
    common.init_threads();
    let root = match root_or_cwd(root) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // SPEC 6: validate renders in memory and runs the policies; it only writes nothing.
    let options = match options(common) {
        Ok(o) => crate::Options {
            sink: crate::Sink::Discard,
            ..o
        },
        Err(code) => return code,
    };
    // Not dropped: the process exits right after, and freeing millions of small allocations
    // one by one is measurable at monorepo scale (BENCHMARKS.md).
    let outcome = std::mem::ManuallyDrop::new(crate::compile(&root, &options));
    let counts = report(
        &outcome.diags,
        &outcome.sources,
        common,
        "validate",
        outcome.waived,
    );
    exit_code(&counts, common)
}

/// Compile options from the common flags; a malformed `--today` (or `SOURCE_DATE_EPOCH`) is a
/// usage error.
fn options(common: &Common) -> Result<crate::Options, i32> {
    let today = crate::policy::waivers::today(common.today.as_deref()).map_err(|e| {
        eprintln!("error: {e}");
        exit::USAGE
    })?;
    Ok(crate::Options {
        envs: common.envs.iter().cloned().collect(),
        today: Some(today),
        source_url: common.source_url.clone(),
        sink: crate::Sink::Keep,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Build,
    Check,
    Diff,
}

fn emit(root: Option<PathBuf>, out: &std::path::Path, common: &Common, mode: Mode) -> i32 {
    common.init_threads();
    let root = match root_or_cwd(root) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut options = match options(common) {
        Ok(o) => o,
        Err(code) => return code,
    };
    // A build into a missing OUT writes each environment as soon as it is rendered, into a
    // staging folder that becomes OUT only if the build succeeds (write::Staging).
    let staging = match mode {
        Mode::Build => crate::write::Staging::create(out).map(std::sync::Arc::new),
        Mode::Check | Mode::Diff => None,
    };
    if let Some(s) = &staging {
        options.sink = crate::Sink::Stage(s.clone());
    }
    let spinner = crate::progress::Spinner::start(
        format!("compiling {}", root.display()),
        common.format == render::Format::Human,
    );
    // Not dropped, like in `validate`: the process exits right after.
    let outcome = std::mem::ManuallyDrop::new(crate::compile(&root, &options));
    drop(spinner);
    let verb = match mode {
        Mode::Build => "build",
        Mode::Check => "check",
        Mode::Diff => "diff",
    };
    let counts = report(
        &outcome.diags,
        &outcome.sources,
        common,
        verb,
        outcome.waived,
    );
    let code = exit_code(&counts, common);
    if code != exit::OK {
        if let Some(s) = &staging {
            s.discard();
        }
        if mode == Mode::Build {
            eprintln!("nothing was written to {}", out.display());
        }
        return code;
    }
    if let Some(s) = &staging {
        let spinner = crate::progress::Spinner::start(
            format!("writing {}", out.display()),
            common.format == render::Format::Human,
        );
        let done = s.finish(&outcome.artifacts);
        drop(spinner);
        return match done {
            Ok(s) => {
                eprintln!("{}", wrote_line(&s, out));
                exit::OK
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{}", error_line(&e));
                }
                eprintln!("nothing was written to {}", out.display());
                exit::USAGE
            }
        };
    }
    let scope = crate::write::Scope {
        envs: (!common.envs.is_empty()).then(|| common.envs.iter().cloned().collect()),
    };
    let spinner = crate::progress::Spinner::start(
        format!("comparing with {}", out.display()),
        common.format == render::Format::Human,
    );
    let plan = crate::write::plan(out, &outcome.artifacts, &scope).map(std::mem::ManuallyDrop::new);
    drop(spinner);
    let plan = match plan {
        Ok(p) => p,
        Err(errors) => {
            for e in errors {
                eprintln!("error[T701]: {e}");
            }
            eprintln!("nothing was written to {}", out.display());
            return exit::USAGE;
        }
    };
    match mode {
        Mode::Build => match write_with_spinner(&plan, &outcome.artifacts, out, common) {
            Ok(s) => {
                eprintln!("{}", wrote_line(&s, out));
                exit::OK
            }
            Err(e) => {
                eprintln!("error[T702]: {e}");
                exit::USAGE
            }
        },
        Mode::Check => {
            if plan.is_clean() {
                eprintln!(
                    "{} is up to date ({})",
                    out.display(),
                    crate::write::summary_line(&plan)
                );
                exit::OK
            } else {
                let color = common.color();
                print!(
                    "{}",
                    crate::write::unified_diff(&plan, &outcome.artifacts, color)
                );
                eprintln!(
                    "{} is out of date: {}\nrun `trestle build --out {}` to update it",
                    out.display(),
                    crate::write::summary_line(&plan),
                    out.display()
                );
                exit::DRIFT
            }
        }
        Mode::Diff => {
            let color = match common.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                        && std::io::stdout().is_terminal()
                }
            };
            print!(
                "{}",
                crate::write::unified_diff(&plan, &outcome.artifacts, color)
            );
            // The same words as `check`, without its advice: diff is the question, not the verdict.
            eprintln!(
                "{} {} ({})",
                out.display(),
                if plan.is_clean() {
                    "is up to date"
                } else {
                    "would change"
                },
                crate::write::summary_line(&plan)
            );
            exit::OK
        }
    }
}

/// A staged build's error: T701 for a path that cannot be planned, T702 for a failed write.
fn error_line(e: &crate::write::WriteError) -> String {
    match e {
        crate::write::WriteError::Io { .. } => format!("error[T702]: {e}"),
        _ => format!("error[T701]: {e}"),
    }
}

/// What `build` says when it wrote OUT.
fn wrote_line(s: &crate::write::Summary, out: &std::path::Path) -> String {
    format!(
        "wrote {} file{} to {} ({} unchanged, {} removed)",
        s.written + s.adopted,
        if s.written + s.adopted == 1 { "" } else { "s" },
        out.display(),
        s.unchanged,
        s.removed
    )
}

/// `write::apply` with a spinner on a terminal when writing is slow.
fn write_with_spinner(
    plan: &crate::write::Plan,
    artifacts: &crate::write::Artifacts,
    out: &std::path::Path,
    common: &Common,
) -> Result<crate::write::Summary, crate::write::WriteError> {
    let _spinner = crate::progress::Spinner::start(
        format!("writing {}", out.display()),
        common.format == render::Format::Human,
    );
    crate::write::apply(plan, artifacts)
}

fn explain(code: &str) -> i32 {
    if let Some(c) = diagnostics::codes::lookup(code) {
        println!("{}: {}\n\n{}", c.code, c.title, c.explanation);
        return exit::OK;
    }
    if let Some(r) = crate::rules::lookup(code) {
        println!(
            "{} ({} by default): {}\n\n{}",
            r.id,
            r.severity.as_str(),
            r.title,
            r.explanation
        );
        if !r.params.is_empty() {
            println!("\nParameters:");
            for (k, v) in r.params {
                println!("  {k}: {v}");
            }
        }
        return exit::OK;
    }
    eprintln!("error: no diagnostic code or rule `{code}`; codes look like T301, rules are listed by `trestle rules`");
    exit::USAGE
}

fn rules() -> i32 {
    let width = crate::rules::RULES
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(0);
    for r in crate::rules::RULES {
        println!("{:width$}  {:7}  {}", r.id, r.severity.as_str(), r.title);
    }
    exit::OK
}

/// Whether to colour stderr: `--color`, then `NO_COLOR`, then whether stderr is a terminal.
pub fn color_enabled(color: Color) -> bool {
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

fn completions(shell: Shell) -> i32 {
    use clap::CommandFactory;
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "trestle",
        &mut std::io::stdout(),
    );
    exit::OK
}
