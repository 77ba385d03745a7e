//! Emitters: Kubernetes, Terraform, Backstage, and the template engine they share.

pub mod backstage;
pub mod kubernetes;
pub mod readme;
pub mod templates;
pub mod terraform;
