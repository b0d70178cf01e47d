//! Which endpoint serves a negotiate, as the SDK's endpoint router chooses: the one
//! `?endpoint=` names when it is online; otherwise one chosen uniformly at random among the
//! online primary endpoints, else among the online secondary ones; else none.

use std::sync::Arc;

use super::{EndpointType, HealthBoard, ServiceEndpoint};

/// The endpoints' names, types and health, by index.
#[derive(Debug)]
pub struct EndpointRouter {
    endpoints: Vec<(String, EndpointType)>,
    /// Health of each endpoint, when there is more than one.
    health: Option<Arc<HealthBoard>>,
}

impl EndpointRouter {
    /// Routes among `endpoints`; without a health board (one endpoint) it is always online.
    pub fn new(endpoints: &[ServiceEndpoint], health: Option<Arc<HealthBoard>>) -> Self {
        Self {
            endpoints: endpoints
                .iter()
                .map(|endpoint| (endpoint.name().to_owned(), endpoint.endpoint_type()))
                .collect(),
            health,
        }
    }

    /// Waits, the first time only, for the first round of health probes.
    pub async fn ready(&self) {
        if let Some(health) = &self.health {
            health.first_round().await;
        }
    }

    /// The index of the endpoint for a request, never `failed`.
    pub fn choose(&self, requested: Option<&str>, failed: Option<usize>) -> Option<usize> {
        let Some(health) = &self.health else {
            return (failed.is_none() && !self.endpoints.is_empty()).then_some(0);
        };
        let candidates: Vec<Candidate<'_>> = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(index, (name, endpoint_type))| Candidate {
                name,
                endpoint_type: *endpoint_type,
                online: health.is_online(index),
            })
            .collect();
        choose(&candidates, requested, failed, |n| {
            rand::Rng::random_range(&mut rand::rng(), 0..n)
        })
    }

    /// Passive failover: marks an endpoint offline after a failed call; `false` when there is
    /// no other endpoint to fail over to.
    pub fn mark_offline(&self, index: usize, why: &str) -> bool {
        match &self.health {
            Some(health) => {
                health.mark_offline(index, why);
                true
            }
            None => false,
        }
    }
}

/// What routing needs to know of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub endpoint_type: EndpointType,
    pub online: bool,
}

/// The index of the endpoint to use, skipping `excluded` (one that just failed).
/// `pick(n)` returns a uniformly random number below `n`.
pub fn choose(
    candidates: &[Candidate<'_>],
    requested: Option<&str>,
    excluded: Option<usize>,
    mut pick: impl FnMut(usize) -> usize,
) -> Option<usize> {
    let usable = |index: usize| candidates[index].online && Some(index) != excluded;
    if let Some(requested) = requested.filter(|name| !name.is_empty()) {
        if let Some(index) = candidates.iter().position(|c| c.name == requested) {
            if usable(index) {
                return Some(index);
            }
        }
    }
    for wanted in [EndpointType::Primary, EndpointType::Secondary] {
        let pool: Vec<usize> = (0..candidates.len())
            .filter(|&index| usable(index) && candidates[index].endpoint_type == wanted)
            .collect();
        if !pool.is_empty() {
            return Some(pool[pick(pool.len())]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(spec: &[(&'static str, EndpointType, bool)]) -> Vec<Candidate<'static>> {
        spec.iter()
            .map(|&(name, endpoint_type, online)| Candidate {
                name,
                endpoint_type,
                online,
            })
            .collect()
    }

    use EndpointType::{Primary, Secondary};

    #[test]
    fn a_named_online_endpoint_is_used() {
        let c = candidates(&[("a", Primary, true), ("b", Secondary, true)]);
        assert_eq!(choose(&c, Some("b"), None, |_| 0), Some(1));
    }

    #[test]
    fn an_unknown_or_offline_name_falls_back_to_the_default_choice() {
        let c = candidates(&[("a", Primary, true), ("b", Secondary, false)]);
        assert_eq!(choose(&c, Some("nope"), None, |_| 0), Some(0));
        assert_eq!(choose(&c, Some("b"), None, |_| 0), Some(0));
        assert_eq!(choose(&c, Some(""), None, |_| 0), Some(0));
    }

    #[test]
    fn primaries_first_then_secondaries_then_none() {
        let c = candidates(&[("p1", Primary, true), ("s1", Secondary, true), ("p2", Primary, true)]);
        assert_eq!(choose(&c, None, None, |_| 1), Some(2), "the second online primary");
        let c = candidates(&[("p1", Primary, false), ("s1", Secondary, true), ("s2", Secondary, true)]);
        assert_eq!(choose(&c, None, None, |_| 1), Some(2));
        let c = candidates(&[("p1", Primary, false), ("s1", Secondary, false)]);
        assert_eq!(choose(&c, None, None, |_| 0), None);
    }

    #[test]
    fn the_excluded_endpoint_is_skipped_even_when_named() {
        let c = candidates(&[("a", Primary, true), ("b", Primary, true)]);
        assert_eq!(choose(&c, Some("a"), Some(0), |_| 0), Some(1));
        let c = candidates(&[("a", Primary, true)]);
        assert_eq!(choose(&c, None, Some(0), |_| 0), None);
    }

    #[test]
    fn the_pick_is_over_the_online_pool_only() {
        let c = candidates(&[("p1", Primary, true), ("p2", Primary, false), ("p3", Primary, true)]);
        let mut seen = Vec::new();
        for i in 0..2 {
            seen.push(choose(&c, None, None, |n| {
                assert_eq!(n, 2);
                i
            }));
        }
        assert_eq!(seen, vec![Some(0), Some(2)]);
    }
}
