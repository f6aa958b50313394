//! Rewrites that keep a plan's meaning and make it cheaper, applied bottom-up once:
//!
//! - flatten: `and(a, and(b, c))` → `and(a, b, c)` (likewise `or`);
//! - constants: `and(a, none)` → `none`, `and(a, all)` → `a`, `or(a, all)` → `all`,
//!   `and()` → `all`, `or()` → `none`, a single child → the child;
//! - negation: `not(not(a))` → `a`, `not(all)` → `none`, and De Morgan pushes `not` below
//!   `and` / `or` (`not(and(a, b))` → `or(not(a), not(b))`), so only leaves are negated;
//! - order: children cheapest first, so an `and` narrows its candidates early.

use crate::segment::compile::Node;

/// Simplifies a plan's node tree.
pub(crate) fn simplify(node: Node) -> Node {
    match node {
        Node::And(children) => combine(children, true),
        Node::Or(children) => combine(children, false),
        Node::Not(child) => negate(simplify(*child)),
        leaf => leaf,
    }
}

/// `not(node)` for a simplified node, pushed down to the leaves.
fn negate(node: Node) -> Node {
    match node {
        Node::All => Node::None,
        Node::None => Node::All,
        Node::Not(inner) => *inner,
        Node::And(children) => combine(children.into_iter().map(negate).collect(), false),
        Node::Or(children) => combine(children.into_iter().map(negate).collect(), true),
        leaf => Node::Not(Box::new(leaf)),
    }
}

/// `and` (when `all`) or `or` of children, simplified and flattened.
fn combine(children: Vec<Node>, all: bool) -> Node {
    let (identity, absorbing) = if all {
        (Node::All, Node::None)
    } else {
        (Node::None, Node::All)
    };
    let mut out = Vec::with_capacity(children.len());
    let mut stack: Vec<Node> = children.into_iter().rev().collect();
    while let Some(child) = stack.pop() {
        match simplify(child) {
            c if c == identity => {}
            c if c == absorbing => return absorbing,
            Node::And(grand) if all => stack.extend(grand.into_iter().rev()),
            Node::Or(grand) if !all => stack.extend(grand.into_iter().rev()),
            c => out.push(c),
        }
    }
    out.sort_by_key(cost);
    match out.len() {
        0 => identity,
        1 => out.pop().unwrap_or(identity),
        _ if all => Node::And(out),
        _ => Node::Or(out),
    }
}

/// A rough cost rank: indexed and cached leaves first, scans of events last. The sort is
/// stable, so equal costs keep the written order.
pub(crate) fn cost(node: &Node) -> u8 {
    match node {
        Node::All | Node::None => 0,
        Node::Segment(_) | Node::Materialized(_) => 1,
        Node::Trait { .. } | Node::Consent { .. } | Node::Suppressed { .. } => 2,
        Node::Sample { .. } | Node::Profiles(_) => 3,
        Node::RfmScore { .. } | Node::RfmSegment { .. } | Node::RfmTrend { .. } => 4,
        Node::Computed { .. } => 5,
        Node::Not(child) => cost(child),
        Node::And(c) | Node::Or(c) => c.iter().map(cost).max().unwrap_or(0),
        Node::Event { .. } | Node::NoneSince { .. } | Node::Then { .. } => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(i: usize) -> Node {
        Node::Segment(i)
    }

    #[test]
    fn flattens_folds_and_pushes_not_down() {
        let nested = Node::And(vec![
            seg(1),
            Node::And(vec![seg(2), Node::All]),
            Node::Not(Box::new(Node::Not(Box::new(seg(3))))),
        ]);
        assert_eq!(simplify(nested), Node::And(vec![seg(1), seg(2), seg(3)]));
        assert_eq!(simplify(Node::Or(vec![seg(1), Node::All])), Node::All);
        assert_eq!(simplify(Node::And(vec![])), Node::All);
        assert_eq!(simplify(Node::Or(vec![seg(4)])), seg(4));
        let de_morgan = Node::Not(Box::new(Node::And(vec![seg(1), seg(2)])));
        assert_eq!(
            simplify(de_morgan),
            Node::Or(vec![
                Node::Not(Box::new(seg(1))),
                Node::Not(Box::new(seg(2)))
            ])
        );
        assert_eq!(simplify(Node::Not(Box::new(Node::None))), Node::All);
    }
}
