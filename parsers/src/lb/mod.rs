//! Load balancer access logs.
pub mod alb;
pub mod elb;
pub mod envoy;
pub mod haproxy;
pub mod slb;
pub mod traefik;
