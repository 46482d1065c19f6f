//! The AWS IAM policy language: parse, validate, compile and evaluate policies with the
//! semantics AWS documents (see `shared/spec/policy-semantics.md` in the project).
//!
//! Pure and synchronous: no IO, no clock (callers put `aws:CurrentTime` in the context), no
//! global state. The rest of Portcullis uses it, and other programs can too.
//!
//! ```
//! use portcullis_policy::{parse_policy, PolicyInputs, PolicyKind, PolicySet, Principal, Request, RequestContext};
//!
//! let policy = parse_policy(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*",
//!         "Resource":"arn:aws:s3:::photos/${aws:username}/*"}}"#,
//!     PolicyKind::Identity,
//! ).unwrap();
//! let identity = PolicySet::single("photos", policy);
//! let inputs = PolicyInputs { identity: Some(&identity), ..Default::default() };
//!
//! let alice = Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap();
//! let request = Request::new(alice, "s3:GetObject", "arn:aws:s3:::photos/alice/cat.jpg", RequestContext::new());
//! assert!(inputs.evaluate(&request).is_allowed());
//! ```

mod arn;
pub mod condition;
mod context;
mod document;
mod evaluate;
mod finding;
mod glob;
mod json;
mod parse;
mod policy_set;
mod principal;
mod request;
mod simulation;
mod validate;
mod variables;

pub use context::{ContextEntry, ContextValue, RequestContext};
pub use document::{
    ActionClause, ActionPattern, Effect, NamedPrincipal, Policy, PrincipalClause, ResourceClause,
    ResourcePattern, Statement, Version,
};
pub use evaluate::{Basis, Decision, MatchedStatement, Outcome, PolicyInputs, PolicySource};
pub use finding::{Finding, PolicyError, Severity};
pub use policy_set::{LabeledPolicy, PolicySet, StatementId};
pub use principal::{Grant, Principal, PrincipalType};
pub use request::{Action, Request, Resource};
pub use simulation::{Simulation, SimulationError, parse_simulations};
pub use validate::{PolicyKind, parse_policy, policy_size, validate};
