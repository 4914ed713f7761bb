//! The internal dependency graph and the release order it implies.
//!
//! Dev-dependency edges are kept (later stages update their requirements) but never order a
//! release, so the common "a's tests use b, b's tests use a" cycle is legal; neither do the edges
//! of an ecosystem released by tags alone (Go modules may require each other). A cycle through
//! any other edge cannot be released in any order and is an error that names it.

use std::collections::{BTreeSet, HashMap};

use super::{DependencyKind, Package};

/// Edges between package indices of a [`super::Workspace`].
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    dependencies: Vec<Vec<(usize, DependencyKind)>>,
    dependents: Vec<Vec<(usize, DependencyKind)>>,
    /// The edges that order releases ([`super::Dependency::orders_release`]), both ways.
    ordering: Vec<Vec<usize>>,
    ordered: Vec<Vec<usize>>,
}

/// A cycle through dependencies that order releases.
#[derive(Debug, Clone, thiserror::Error)]
#[error("dependency cycle: {}", .cycle.join(" → "))]
pub struct CycleError {
    /// Package ids (`ecosystem:name`) around the cycle; the first is repeated at the end.
    pub cycle: Vec<String>,
}

impl CycleError {
    pub fn help(&self) -> String {
        "break the cycle, or make one of these edges a dev-dependency, which does not order releases".to_owned()
    }
}

impl DependencyGraph {
    pub fn new(packages: &[Package]) -> Self {
        let index: HashMap<(super::Ecosystem, &str), usize> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.ecosystem, p.name.as_str()), i))
            .collect();
        let mut dependencies = vec![Vec::new(); packages.len()];
        let mut dependents = vec![Vec::new(); packages.len()];
        let mut ordering = vec![Vec::new(); packages.len()];
        let mut ordered = vec![Vec::new(); packages.len()];
        for (from, p) in packages.iter().enumerate() {
            for dep in &p.dependencies {
                if let Some(&to) = index.get(&(dep.ecosystem, dep.name.as_str())) {
                    dependencies[from].push((to, dep.kind));
                    dependents[to].push((from, dep.kind));
                    if dep.orders_release() {
                        ordering[from].push(to);
                        ordered[to].push(from);
                    }
                }
            }
        }
        for list in dependencies.iter_mut().chain(dependents.iter_mut()) {
            list.sort_unstable();
            list.dedup();
        }
        for list in ordering.iter_mut().chain(ordered.iter_mut()) {
            list.sort_unstable();
            list.dedup();
        }
        Self {
            dependencies,
            dependents,
            ordering,
            ordered,
        }
    }

    /// What package `i` depends on, with the kind of each edge.
    pub fn dependencies(&self, i: usize) -> &[(usize, DependencyKind)] {
        &self.dependencies[i]
    }

    /// What depends on package `i`, with the kind of each edge.
    pub fn dependents(&self, i: usize) -> &[(usize, DependencyKind)] {
        &self.dependents[i]
    }

    fn ordering_deps(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.ordering[i].iter().copied()
    }

    /// Every package index, dependencies first. Among packages free at the same time the lower index
    /// (ecosystem, then path) comes first, so the order is stable.
    pub fn topological_order(&self, packages: &[Package]) -> Result<Vec<usize>, CycleError> {
        let n = self.dependencies.len();
        let mut waiting: Vec<usize> = (0..n)
            .map(|i| self.ordering_deps(i).collect::<BTreeSet<_>>().len())
            .collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &self.ordered[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        let start = (0..n).find(|&i| waiting[i] > 0).unwrap_or_default();
        Err(CycleError {
            cycle: self
                .find_cycle(start, &waiting)
                .into_iter()
                .map(|i| packages[i].id())
                .collect(),
        })
    }

    /// Follows ordering edges among still-waiting packages until one repeats.
    fn find_cycle(&self, start: usize, waiting: &[usize]) -> Vec<usize> {
        let mut path = vec![start];
        let mut cur = start;
        loop {
            let next = self
                .ordering_deps(cur)
                .find(|&t| waiting[t] > 0)
                .unwrap_or(cur);
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle = path[pos..].to_vec();
                cycle.push(next);
                return cycle;
            }
            path.push(next);
            cur = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Dependency, Ecosystem, Location, VersionSource};
    use super::*;

    fn pkg(name: &str, deps: &[(&str, DependencyKind)]) -> Package {
        Package {
            name: name.into(),
            ecosystem: Ecosystem::Npm,
            path: name.into(),
            manifest: format!("{name}/package.json"),
            version: Some("1.0.0".into()),
            version_source: VersionSource::Missing,
            private: false,
            registry: None,
            dependencies: deps
                .iter()
                .map(|(d, kind)| Dependency {
                    name: (*d).into(),
                    ecosystem: Ecosystem::Npm,
                    kind: *kind,
                    requirement: None,
                    alias: None,
                    optional: false,
                    target: None,
                    path: None,
                    location: Location {
                        file: String::new(),
                        key: vec![],
                        line: 1,
                    },
                })
                .collect(),
        }
    }

    fn names(packages: &[Package], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| packages[i].name.clone()).collect()
    }

    #[test]
    fn dependencies_come_first() {
        use DependencyKind::*;
        let p = vec![
            pkg("a", &[("b", Normal), ("c", Peer)]),
            pkg("b", &[("c", Build)]),
            pkg("c", &[]),
        ];
        let g = DependencyGraph::new(&p);
        assert_eq!(
            names(&p, &g.topological_order(&p).unwrap()),
            ["c", "b", "a"]
        );
    }

    #[test]
    fn dev_cycles_are_legal() {
        use DependencyKind::*;
        let p = vec![pkg("a", &[("b", Normal)]), pkg("b", &[("a", Dev)])];
        let g = DependencyGraph::new(&p);
        assert_eq!(names(&p, &g.topological_order(&p).unwrap()), ["b", "a"]);
    }

    #[test]
    fn normal_cycles_are_named() {
        use DependencyKind::*;
        let p = vec![
            pkg("a", &[("b", Normal)]),
            pkg("b", &[("c", Optional)]),
            pkg("c", &[("a", Normal)]),
            pkg("d", &[("a", Normal)]),
        ];
        let g = DependencyGraph::new(&p);
        let err = g.topological_order(&p).unwrap_err();
        assert_eq!(err.cycle, ["npm:a", "npm:b", "npm:c", "npm:a"]);
        assert_eq!(
            err.to_string(),
            "dependency cycle: npm:a → npm:b → npm:c → npm:a"
        );
    }
}
