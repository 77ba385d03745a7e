//! image-tag-pinned: no untagged or `:latest` images; a digest where `require-digest-in` says.

use super::{EnvCx, Finding, Scope};

/// An image reference split into its parts: `registry/path:tag@digest`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImageRef<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Split an image reference. A `:` before the last `/` belongs to a registry port
/// (`registry:5000/app`), not a tag.
pub(crate) fn parse(image: &str) -> ImageRef<'_> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last..].rfind(':') {
        Some(i) => ImageRef {
            name: &rest[..last + i],
            tag: Some(&rest[last + i + 1..]),
            digest,
        },
        None => ImageRef {
            name: rest,
            tag: None,
            digest,
        },
    }
}

pub(super) fn check(cx: &EnvCx<'_>, out: &mut Vec<Finding>) {
    let Some(rule) = cx.config.rule("image-tag-pinned") else {
        return;
    };
    let env_type = cx.env.env_type;
    let need_digest = cx.config.require_digest_in.contains(&env_type);
    for w in &cx.env.workloads {
        for c in &w.containers {
            let r = parse(&c.image);
            if r.digest.is_some() {
                continue;
            }
            let example = |tag: &str| format!("{}:{tag}", r.name);
            let d = if need_digest {
                let pinned = match r.tag {
                    Some(t) if t != "latest" => c.image.clone(),
                    _ => example("1.2.3"),
                };
                rule.diag(format!(
                    "image `{}` has no digest, which {} environments require",
                    c.image,
                    env_type.as_str()
                ))
                .label(c.image_span, "not pinned by digest")
                .help(format!(
                    "append the image's digest: `image \"{pinned}@sha256:…\"`"
                ))
            } else {
                match r.tag {
                    None => rule
                        .diag(format!("image `{}` has no tag", c.image))
                        .label(
                            c.image_span,
                            "untagged: the registry serves whatever `latest` is",
                        )
                        .help(format!(
                            "pin a version: `image \"{}\"` (or a digest with `@sha256:…`)",
                            example("1.2.3")
                        )),
                    Some("latest") => rule
                        .diag(format!("image `{}` is not pinned", c.image))
                        .label(c.image_span, "`latest` changes between deploys")
                        .help(format!(
                            "pin a version: `image \"{}\"` (or a digest with `@sha256:…`)",
                            example("1.2.3")
                        )),
                    Some(_) => continue,
                }
            };
            out.push(cx.finding(d, Scope::workload(w)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let p = |s| parse(s);
        assert_eq!(
            p("ghcr.io/acme/api:1.4.2"),
            ImageRef {
                name: "ghcr.io/acme/api",
                tag: Some("1.4.2"),
                digest: None
            }
        );
        assert_eq!(
            p("registry:5000/app"),
            ImageRef {
                name: "registry:5000/app",
                tag: None,
                digest: None
            }
        );
        assert_eq!(
            p("nginx@sha256:abc"),
            ImageRef {
                name: "nginx",
                tag: None,
                digest: Some("sha256:abc")
            }
        );
        assert_eq!(
            p("registry:5000/app:latest@sha256:abc"),
            ImageRef {
                name: "registry:5000/app",
                tag: Some("latest"),
                digest: Some("sha256:abc")
            }
        );
    }
}
