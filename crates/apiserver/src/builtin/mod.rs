//! Built-in Kubernetes kinds the product needs, as resource definitions.
