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
    after_help = "Examples:\n  trestle validate specs/acme\n  trestle explain T301"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    #[arg(long, value_name = "URL")]
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

    fn init_threads(&self) {
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

/// Print diagnostics in the chosen format and the summary line; returns the counts.
pub fn report(diags: &[Diagnostic], sources: &Sources, common: &Common, verb: &str) -> Counts {
    let counts = Counts::of(diags);
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
    let fe = crate::frontend(&root);
    let mut diags = fe.diags;
    diagnostics::sort(&mut diags, &fe.sources);
    let counts = report(&diags, &fe.sources, common, "validate");
    exit_code(&counts, common)
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
    let options = crate::Options {
        envs: common.envs.iter().cloned().collect(),
    };
    let outcome = crate::compile(&root, &options);
    let verb = match mode {
        Mode::Build => "build",
        Mode::Check => "check",
        Mode::Diff => "diff",
    };
    let counts = report(&outcome.diags, &outcome.sources, common, verb);
    let code = exit_code(&counts, common);
    if code != exit::OK {
        if mode == Mode::Build {
            eprintln!("nothing was written to {}", out.display());
        }
        return code;
    }
    let scope = crate::write::Scope {
        envs: (!common.envs.is_empty()).then(|| common.envs.iter().cloned().collect()),
    };
    let plan = match crate::write::plan(out, &outcome.artifacts, &scope) {
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
        Mode::Build => match crate::write::apply(&plan, &outcome.artifacts) {
            Ok(s) => {
                eprintln!(
                    "wrote {} file{} to {} ({} unchanged, {} removed)",
                    s.written + s.adopted,
                    if s.written + s.adopted == 1 { "" } else { "s" },
                    out.display(),
                    s.unchanged,
                    s.removed
                );
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
            eprintln!("{}", crate::write::summary_line(&plan));
            exit::OK
        }
    }
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
