//! Reading spec YAML: the spanned tree and the decoders that turn it into a [`Spec`](crate::Spec),
//! reporting every problem with its position.

mod decoder;
mod dependency_decoder;
pub(crate) mod keys;
mod location_decoder;
mod logs_decoder;
mod node;
mod readiness_decoder;
mod restart_decoder;
mod spec_decoder;
mod stop_decoder;
mod var_check;

pub(crate) use decoder::Decoder;
pub(crate) use dependency_decoder::DependencyRef;
pub(crate) use node::parse_tree;
