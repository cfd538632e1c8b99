//! The pane tree: binary splits with ratios, leaves that say what they show ([`PaneSpec`]),
//! the focused pane and the zoom flag. Pure data — serialised as JSON into the store per
//! project; the workspace keeps the live pane objects next to it, keyed by [`PaneId`].

use ratatui::layout::Rect;
use serde::{Deserialize, Serialize};

use crate::tui::pane::PaneSpec;

pub type PaneId = u64;

/// How a split divides its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitDir {
    /// Side by side (`%`).
    LeftRight,
    /// One above the other (`"`).
    TopBottom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Left,
    Down,
    Up,
    Right,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum Node {
    Leaf {
        id: PaneId,
        spec: PaneSpec,
    },
    Split {
        dir: SplitDir,
        /// Share of the first child, in percent (10–90).
        ratio: u16,
        first: Box<Node>,
        second: Box<Node>,
    },
}

/// Smallest and largest share a resize leaves to a child.
const MIN_RATIO: u16 = 10;
const MAX_RATIO: u16 = 90;
/// One resize step, in percent.
pub const RESIZE_STEP: u16 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub root: Node,
    pub focus: PaneId,
    #[serde(default)]
    pub zoomed: bool,
    next_id: PaneId,
}

impl Layout {
    pub fn new(spec: PaneSpec) -> Layout {
        Layout {
            root: Node::Leaf { id: 1, spec },
            focus: 1,
            zoomed: false,
            next_id: 2,
        }
    }

    /// Leaves in tree order (left/top first).
    pub fn leaves(&self) -> Vec<(PaneId, &PaneSpec)> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<(PaneId, &'a PaneSpec)>) {
            match n {
                Node::Leaf { id, spec } => out.push((*id, spec)),
                Node::Split { first, second, .. } => {
                    walk(first, out);
                    walk(second, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    pub fn len(&self) -> usize {
        self.leaves().len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn spec(&self, id: PaneId) -> Option<&PaneSpec> {
        self.leaves()
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s)
    }

    /// The pane showing `spec`, if one does.
    pub fn find(&self, spec: &PaneSpec) -> Option<PaneId> {
        self.leaves()
            .into_iter()
            .find(|(_, s)| *s == spec)
            .map(|(id, _)| id)
    }

    pub fn set_spec(&mut self, id: PaneId, new: PaneSpec) {
        fn walk(n: &mut Node, id: PaneId, new: &PaneSpec) {
            match n {
                Node::Leaf { id: i, spec } if *i == id => *spec = new.clone(),
                Node::Leaf { .. } => {}
                Node::Split { first, second, .. } => {
                    walk(first, id, new);
                    walk(second, id, new);
                }
            }
        }
        walk(&mut self.root, id, &new);
    }

    /// Splits the focused pane; the new pane takes the second half and the focus.
    pub fn split(&mut self, dir: SplitDir, spec: PaneSpec) -> PaneId {
        self.split_at(self.focus, dir, spec)
    }

    /// Splits pane `target`; the new pane takes the second half and the focus. Zoom stays as
    /// it is: the user turns it off, not opening a pane.
    pub fn split_at(&mut self, target: PaneId, dir: SplitDir, spec: PaneSpec) -> PaneId {
        let id = self.next_id;
        self.next_id += 1;
        fn walk(n: &mut Node, target: PaneId, dir: SplitDir, id: PaneId, spec: &PaneSpec) -> bool {
            match n {
                Node::Leaf { id: i, .. } if *i == target => {
                    let old = std::mem::replace(n, vacated_slot());
                    *n = Node::Split {
                        dir,
                        ratio: 50,
                        first: Box::new(old),
                        second: Box::new(Node::Leaf {
                            id,
                            spec: spec.clone(),
                        }),
                    };
                    true
                }
                Node::Leaf { .. } => false,
                Node::Split { first, second, .. } => {
                    walk(first, target, dir, id, spec) || walk(second, target, dir, id, spec)
                }
            }
        }
        if walk(&mut self.root, target, dir, id, &spec) {
            self.focus = id;
        }
        id
    }

    /// Where a new pane should go in `area`: beside the focused pane when both halves stay
    /// usable, else beside the roomiest pane that has space for it, else (a small terminal)
    /// in place of the largest pane's content.
    pub fn placement(&self, area: Rect) -> Placement {
        let rects = self.tiled_rects(area);
        let focused = rects.iter().find(|(id, _)| *id == self.focus);
        if let Some((id, dir)) = focused.and_then(|&(id, r)| room_to_split(r).map(|d| (id, d))) {
            return Placement::Split { target: id, dir };
        }
        let size = |r: &Rect| u32::from(r.width) * u32::from(r.height);
        let roomiest = rects
            .iter()
            .filter_map(|&(id, r)| room_to_split(r).map(|dir| (id, dir, size(&r))))
            .max_by_key(|&(_, _, s)| s);
        if let Some((target, dir, _)) = roomiest {
            return Placement::Split { target, dir };
        }
        let largest = rects
            .iter()
            .max_by_key(|(id, r)| (size(r), *id == self.focus))
            .map_or(self.focus, |(id, _)| *id);
        Placement::Replace(largest)
    }

    /// Closes a pane; the pane that now covers the place where it was takes the focus, so the
    /// focus stays where the user was looking. The last pane stays: returns false then.
    pub fn close(&mut self, id: PaneId) -> bool {
        if matches!(self.root, Node::Leaf { .. }) {
            return false;
        }
        let was_at = self
            .tiled_rects(REFERENCE_AREA)
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| centre(r));
        fn walk(n: &mut Node, id: PaneId) -> bool {
            let Node::Split { first, second, .. } = n else {
                return false;
            };
            let keep = if matches!(**first, Node::Leaf { id: i, .. } if i == id) {
                Some(std::mem::replace(&mut **second, vacated_slot()))
            } else if matches!(**second, Node::Leaf { id: i, .. } if i == id) {
                Some(std::mem::replace(&mut **first, vacated_slot()))
            } else {
                None
            };
            if let Some(keep) = keep {
                *n = keep;
                return true;
            }
            walk(first, id) || walk(second, id)
        }
        if !walk(&mut self.root, id) {
            return false;
        }
        if self.focus == id || self.spec(self.focus).is_none() {
            let rects = self.tiled_rects(REFERENCE_AREA);
            self.focus = was_at
                .and_then(|at| {
                    rects
                        .iter()
                        .min_by_key(|(_, r)| distance(at, *r))
                        .map(|(i, _)| *i)
                })
                .unwrap_or_else(|| first_leaf(&self.root));
        }
        self.zoomed = self.zoomed && self.len() > 1;
        true
    }

    /// Removes every pane whose spec fails `keep`. `None` when nothing is left.
    pub fn retain(mut self, keep: impl Fn(&PaneSpec) -> bool) -> Option<Layout> {
        let drop: Vec<PaneId> = self
            .leaves()
            .into_iter()
            .filter(|(_, s)| !keep(s))
            .map(|(i, _)| i)
            .collect();
        for id in drop {
            if !self.close(id) {
                return None;
            }
        }
        Some(self)
    }

    /// The rectangle of each visible pane. Side-by-side panes leave a one-column gap for the
    /// separator the workspace draws; with zoom on only the focused pane is visible.
    pub fn rects(&self, area: Rect) -> Vec<(PaneId, Rect)> {
        if self.zoomed {
            return vec![(self.focus, area)];
        }
        self.tiled_rects(area)
    }

    /// Every pane's rectangle as if zoom were off.
    fn tiled_rects(&self, area: Rect) -> Vec<(PaneId, Rect)> {
        let mut out = Vec::new();
        place(&self.root, area, &mut out);
        out
    }

    /// Vertical separators between side-by-side panes: (x, y, height).
    pub fn separators(&self, area: Rect) -> Vec<Rect> {
        fn walk(n: &Node, area: Rect, out: &mut Vec<Rect>) {
            if let Node::Split {
                dir,
                ratio,
                first,
                second,
            } = n
            {
                let (a, b) = split_rect(area, *dir, *ratio);
                if *dir == SplitDir::LeftRight && area.width > 2 {
                    out.push(Rect::new(a.x + a.width, area.y, 1, area.height));
                }
                walk(first, a, out);
                walk(second, b, out);
            }
        }
        let mut out = Vec::new();
        if !self.zoomed {
            walk(&self.root, area, &mut out);
        }
        out
    }

    /// Moves the focus to the nearest pane in `dir`; false when there is none.
    pub fn focus_dir(&mut self, dir: Direction, area: Rect) -> bool {
        if self.zoomed {
            return false;
        }
        let rects = self.rects(area);
        let Some(&(_, cur)) = rects.iter().find(|(i, _)| *i == self.focus) else {
            return false;
        };
        let (cx, cy) = (
            cur.x as i32 + cur.width as i32 / 2,
            cur.y as i32 + cur.height as i32 / 2,
        );
        let mut best: Option<(i32, PaneId)> = None;
        for &(id, r) in &rects {
            if id == self.focus {
                continue;
            }
            let (x0, x1, y0, y1) = (
                r.x as i32,
                (r.x + r.width) as i32,
                r.y as i32,
                (r.y + r.height) as i32,
            );
            let (c0, c1, d0, d1) = (
                cur.x as i32,
                (cur.x + cur.width) as i32,
                cur.y as i32,
                (cur.y + cur.height) as i32,
            );
            let (ahead, overlap, gap, off) = match dir {
                Direction::Left => (
                    x1 <= c0,
                    y0 < d1 && y1 > d0,
                    c0 - x1,
                    (cy - (y0 + y1) / 2).abs(),
                ),
                Direction::Right => (
                    x0 >= c1,
                    y0 < d1 && y1 > d0,
                    x0 - c1,
                    (cy - (y0 + y1) / 2).abs(),
                ),
                Direction::Up => (
                    y1 <= d0,
                    x0 < c1 && x1 > c0,
                    d0 - y1,
                    (cx - (x0 + x1) / 2).abs(),
                ),
                Direction::Down => (
                    y0 >= d1,
                    x0 < c1 && x1 > c0,
                    y0 - d1,
                    (cx - (x0 + x1) / 2).abs(),
                ),
            };
            if !ahead || !overlap {
                continue;
            }
            let score = gap * 1000 + off;
            if best.is_none_or(|(s, _)| score < s) {
                best = Some((score, id));
            }
        }
        match best {
            Some((_, id)) => {
                self.focus = id;
                true
            }
            None => false,
        }
    }

    /// Focuses the next pane in tree order (wrapping).
    pub fn focus_next(&mut self) {
        let ids: Vec<PaneId> = self.leaves().into_iter().map(|(i, _)| i).collect();
        if let Some(pos) = ids.iter().position(|i| *i == self.focus) {
            self.focus = ids[(pos + 1) % ids.len()];
        }
    }

    /// Moves the border of the nearest enclosing split on the axis of `dir` one step that way.
    /// False when no split lies on that axis.
    pub fn resize(&mut self, dir: Direction) -> bool {
        let axis = match dir {
            Direction::Left | Direction::Right => SplitDir::LeftRight,
            Direction::Up | Direction::Down => SplitDir::TopBottom,
        };
        let grow_first = matches!(dir, Direction::Right | Direction::Down);
        fn walk(n: &mut Node, target: PaneId, axis: SplitDir, grow_first: bool) -> (bool, bool) {
            // (contains target, resized)
            match n {
                Node::Leaf { id, .. } => (*id == target, false),
                Node::Split {
                    dir,
                    ratio,
                    first,
                    second,
                } => {
                    let (in_first, done) = walk(first, target, axis, grow_first);
                    if done {
                        return (true, true);
                    }
                    let (in_second, done2) = if in_first {
                        (false, false)
                    } else {
                        walk(second, target, axis, grow_first)
                    };
                    if done2 {
                        return (true, true);
                    }
                    if (in_first || in_second) && *dir == axis {
                        *ratio = if grow_first {
                            (*ratio + RESIZE_STEP).min(MAX_RATIO)
                        } else {
                            ratio.saturating_sub(RESIZE_STEP).max(MIN_RATIO)
                        };
                        return (true, true);
                    }
                    (in_first || in_second, false)
                }
            }
        }
        walk(&mut self.root, self.focus, axis, grow_first).1
    }

    pub fn toggle_zoom(&mut self) {
        self.zoomed = !self.zoomed && self.len() > 1;
    }

    /// Swaps the focused pane with the next (`forward`) or previous one in tree order; the
    /// focus moves with the pane.
    pub fn swap(&mut self, forward: bool) -> bool {
        let leaves: Vec<(PaneId, PaneSpec)> = self
            .leaves()
            .into_iter()
            .map(|(i, s)| (i, s.clone()))
            .collect();
        if leaves.len() < 2 {
            return false;
        }
        let Some(pos) = leaves.iter().position(|(i, _)| *i == self.focus) else {
            return false;
        };
        let other = if forward {
            (pos + 1) % leaves.len()
        } else {
            (pos + leaves.len() - 1) % leaves.len()
        };
        let (a, b) = (leaves[pos].clone(), leaves[other].clone());
        fn walk(n: &mut Node, a: &(PaneId, PaneSpec), b: &(PaneId, PaneSpec)) {
            match n {
                Node::Leaf { id, spec } => {
                    if *id == a.0 {
                        (*id, *spec) = (b.0, b.1.clone());
                    } else if *id == b.0 {
                        (*id, *spec) = (a.0, a.1.clone());
                    }
                }
                Node::Split { first, second, .. } => {
                    walk(first, a, b);
                    walk(second, a, b);
                }
            }
        }
        walk(&mut self.root, &a, &b);
        true
    }

    /// Checks invariants after deserialising: the focus exists and ids are below `next_id`.
    pub fn repair(&mut self) {
        let ids: Vec<PaneId> = self.leaves().into_iter().map(|(i, _)| i).collect();
        if !ids.contains(&self.focus) {
            self.focus = ids.first().copied().unwrap_or(1);
        }
        let max = ids.iter().copied().max().unwrap_or(0);
        self.next_id = self.next_id.max(max + 1);
        fn clamp(n: &mut Node) {
            if let Node::Split {
                ratio,
                first,
                second,
                ..
            } = n
            {
                *ratio = (*ratio).clamp(MIN_RATIO, MAX_RATIO);
                clamp(first);
                clamp(second);
            }
        }
        clamp(&mut self.root);
    }
}

/// Where [`Layout::placement`] puts a new pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Split {
        target: PaneId,
        dir: SplitDir,
    },
    /// No pane has room for another: show the new content in this one instead.
    Replace(PaneId),
}

/// The smallest pane a split may leave behind: a chat narrower or lower than this is unusable.
pub const MIN_PANE_WIDTH: u16 = 32;
pub const MIN_PANE_HEIGHT: u16 = 6;

/// The way to split `r` so both halves stay at least the minimum size, if any: along the
/// longer side (cells are about twice as tall as wide).
fn room_to_split(r: Rect) -> Option<SplitDir> {
    let (lr, _) = split_rect(r, SplitDir::LeftRight, 50);
    let (tb, _) = split_rect(r, SplitDir::TopBottom, 50);
    let usable = |p: Rect| p.width >= MIN_PANE_WIDTH && p.height >= MIN_PANE_HEIGHT;
    match (usable(lr), usable(tb)) {
        (true, true) if r.width as u32 >= r.height as u32 * 3 => Some(SplitDir::LeftRight),
        (true, false) => Some(SplitDir::LeftRight),
        (_, true) => Some(SplitDir::TopBottom),
        (false, false) => None,
    }
}

/// A large area to measure where panes sit when no real one is at hand (ratios are what matter).
const REFERENCE_AREA: Rect = Rect {
    x: 0,
    y: 0,
    width: 1000,
    height: 1000,
};

fn centre(r: Rect) -> (u16, u16) {
    (r.x + r.width / 2, r.y + r.height / 2)
}

/// How far a point lies outside a rectangle (0 inside it).
fn distance((x, y): (u16, u16), r: Rect) -> u32 {
    let gap = |v: u16, lo: u16, len: u16| {
        let hi = lo + len.saturating_sub(1);
        u32::from(lo.saturating_sub(v)) + u32::from(v.saturating_sub(hi))
    };
    gap(x, r.x, r.width) + gap(y, r.y, r.height)
}

/// What `mem::replace` leaves in a slot whose node moves up a level; the slot is dropped right after.
fn vacated_slot() -> Node {
    Node::Leaf {
        id: 0,
        spec: PaneSpec::Background,
    }
}

fn first_leaf(n: &Node) -> PaneId {
    match n {
        Node::Leaf { id, .. } => *id,
        Node::Split { first, .. } => first_leaf(first),
    }
}

fn split_rect(area: Rect, dir: SplitDir, ratio: u16) -> (Rect, Rect) {
    match dir {
        SplitDir::LeftRight => {
            // One column for the separator when there is room for it.
            let gap = u16::from(area.width > 2);
            let usable = area.width.saturating_sub(gap);
            let w1 = ((usable as u32 * ratio as u32 + 50) / 100) as u16;
            let w1 = w1.min(usable);
            let a = Rect::new(area.x, area.y, w1, area.height);
            let b = Rect::new(area.x + w1 + gap, area.y, usable - w1, area.height);
            (a, b)
        }
        SplitDir::TopBottom => {
            let h1 = ((area.height as u32 * ratio as u32 + 50) / 100) as u16;
            let h1 = h1.min(area.height);
            let a = Rect::new(area.x, area.y, area.width, h1);
            let b = Rect::new(area.x, area.y + h1, area.width, area.height - h1);
            (a, b)
        }
    }
}

fn place(n: &Node, area: Rect, out: &mut Vec<(PaneId, Rect)>) {
    match n {
        Node::Leaf { id, .. } => out.push((*id, area)),
        Node::Split {
            dir,
            ratio,
            first,
            second,
        } => {
            let (a, b) = split_rect(area, *dir, *ratio);
            place(first, a, out);
            place(second, b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: &str) -> PaneSpec {
        PaneSpec::Chat { chat_id: id.into() }
    }

    const AREA: Rect = Rect {
        x: 0,
        y: 0,
        width: 101,
        height: 40,
    };

    /// a | b over c:  [a | [b / c]]
    fn three() -> Layout {
        let mut l = Layout::new(chat("a"));
        l.split(SplitDir::LeftRight, chat("b"));
        l.split(SplitDir::TopBottom, chat("c"));
        l
    }

    fn focused_chat(l: &Layout) -> String {
        match l.spec(l.focus) {
            Some(PaneSpec::Chat { chat_id }) => chat_id.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn split_gives_the_new_pane_focus_and_half_the_space() {
        let l = three();
        assert_eq!(l.len(), 3);
        assert_eq!(focused_chat(&l), "c");
        let rects = l.rects(AREA);
        assert_eq!(rects[0].1, Rect::new(0, 0, 50, 40));
        assert_eq!(rects[1].1, Rect::new(51, 0, 50, 20));
        assert_eq!(rects[2].1, Rect::new(51, 20, 50, 20));
        assert_eq!(l.separators(AREA), vec![Rect::new(50, 0, 1, 40)]);
    }

    #[test]
    fn focus_moves_by_direction() {
        let mut l = three();
        assert!(l.focus_dir(Direction::Up, AREA));
        assert_eq!(focused_chat(&l), "b");
        assert!(!l.focus_dir(Direction::Up, AREA));
        assert!(l.focus_dir(Direction::Left, AREA));
        assert_eq!(focused_chat(&l), "a");
        assert!(!l.focus_dir(Direction::Left, AREA));
        assert!(l.focus_dir(Direction::Right, AREA));
        assert_eq!(focused_chat(&l), "b");
        assert!(l.focus_dir(Direction::Down, AREA));
        assert_eq!(focused_chat(&l), "c");
        assert!(!l.focus_dir(Direction::Down, AREA));
        l.focus_next();
        assert_eq!(focused_chat(&l), "a");
    }

    #[test]
    fn close_hands_focus_to_the_sibling_and_keeps_the_last_pane() {
        let mut l = three();
        let c = l.focus;
        assert!(l.close(c));
        assert_eq!(focused_chat(&l), "b");
        assert_eq!(l.len(), 2);
        let b = l.focus;
        assert!(l.close(b));
        assert_eq!(focused_chat(&l), "a");
        assert!(!l.close(l.focus), "the last pane stays");
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn close_focuses_the_pane_that_took_the_space() {
        // [[a | b] | c]: closing c widens b, right next to it, not a at the far left.
        let mut l = Layout::new(chat("a"));
        let a = l.focus;
        let c = l.split(SplitDir::LeftRight, chat("c"));
        l.focus = a;
        l.split(SplitDir::LeftRight, chat("b"));
        l.focus = c;
        assert!(l.close(c));
        assert_eq!(focused_chat(&l), "b");
        // Closing a pane that is not focused leaves the focus alone.
        let mut l = three();
        let a = l.leaves()[0].0;
        assert!(l.close(a));
        assert_eq!(focused_chat(&l), "c");
    }

    #[test]
    fn opening_and_closing_panes_keep_the_zoom() {
        let mut l = three();
        l.toggle_zoom();
        let d = l.split(SplitDir::LeftRight, chat("d"));
        assert!(l.zoomed, "a new pane does not undo the zoom");
        assert_eq!(l.rects(AREA), vec![(d, AREA)]);
        assert!(l.close(d));
        assert!(l.zoomed);
        let rest: Vec<PaneId> = l.leaves().into_iter().map(|(i, _)| i).collect();
        l.close(rest[0]);
        l.close(rest[1]);
        assert!(!l.zoomed, "one pane left: nothing to zoom");
    }

    #[test]
    fn new_panes_go_where_there_is_room() {
        // A narrow pane on the right: a new pane splits the wide one instead.
        let mut l = Layout::new(chat("a"));
        let a = l.focus;
        let narrow = l.split(SplitDir::LeftRight, PaneSpec::Background);
        for _ in 0..8 {
            l.resize(Direction::Right);
        }
        let narrow_rect = l
            .rects(AREA)
            .into_iter()
            .find(|(i, _)| *i == narrow)
            .unwrap()
            .1;
        assert!(narrow_rect.width < MIN_PANE_WIDTH);
        assert_eq!(
            l.placement(AREA),
            Placement::Split {
                target: a,
                dir: SplitDir::TopBottom
            }
        );
        // The focused pane is used when it has room; a wide one splits left/right.
        l.focus = a;
        let wide = Rect::new(0, 0, 200, 40);
        assert_eq!(
            l.placement(wide),
            Placement::Split {
                target: a,
                dir: SplitDir::LeftRight
            }
        );
        // Nowhere to split: the largest pane's content is replaced.
        l.focus = narrow;
        assert_eq!(l.placement(Rect::new(0, 0, 50, 10)), Placement::Replace(a));
        // Zoom does not hide the other panes from the choice.
        l.toggle_zoom();
        assert!(matches!(l.placement(AREA), Placement::Split { target, .. } if target == a));
    }

    #[test]
    fn resize_moves_the_nearest_border_on_that_axis() {
        let mut l = three();
        assert!(l.resize(Direction::Down));
        assert!(l.resize(Direction::Left));
        let Node::Split { ratio, second, .. } = &l.root else {
            panic!()
        };
        assert_eq!(*ratio, 45);
        let Node::Split { ratio, .. } = &**second else {
            panic!()
        };
        assert_eq!(*ratio, 55);
        for _ in 0..30 {
            l.resize(Direction::Left);
        }
        let Node::Split { ratio, .. } = &l.root else {
            panic!()
        };
        assert_eq!(*ratio, MIN_RATIO);
        let mut single = Layout::new(chat("a"));
        assert!(!single.resize(Direction::Left));
    }

    #[test]
    fn zoom_shows_only_the_focused_pane() {
        let mut l = three();
        l.toggle_zoom();
        assert_eq!(l.rects(AREA), vec![(l.focus, AREA)]);
        assert!(l.separators(AREA).is_empty());
        l.toggle_zoom();
        assert_eq!(l.rects(AREA).len(), 3);
        let mut single = Layout::new(chat("a"));
        single.toggle_zoom();
        assert!(!single.zoomed);
    }

    #[test]
    fn swap_moves_the_pane_and_the_focus_follows() {
        let mut l = three();
        assert!(l.swap(false));
        let order: Vec<_> = l.leaves().into_iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(order, vec![chat("a"), chat("c"), chat("b")]);
        assert_eq!(focused_chat(&l), "c");
        assert!(l.swap(true));
        assert!(l.swap(true));
        let order: Vec<_> = l.leaves().into_iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(order, vec![chat("c"), chat("b"), chat("a")]);
        assert_eq!(focused_chat(&l), "c");
    }

    #[test]
    fn serde_round_trip() {
        let mut l = three();
        l.split(SplitDir::LeftRight, PaneSpec::Trace { chat_id: None });
        l.split(SplitDir::TopBottom, PaneSpec::Background);
        l.resize(Direction::Up);
        l.toggle_zoom();
        let json = serde_json::to_string(&l).unwrap();
        let back: Layout = serde_json::from_str(&json).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn dropping_missing_chats() {
        let l = three();
        let kept = l.clone().retain(|s| s != &chat("b")).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(kept.spec(kept.focus).is_some());
        assert!(l.retain(|_| false).is_none());
    }

    #[test]
    fn tiny_areas_never_panic() {
        let mut l = three();
        for (w, h) in [(0, 0), (1, 1), (2, 1), (3, 2)] {
            let area = Rect::new(0, 0, w, h);
            for (_, r) in l.rects(area) {
                assert!(r.x + r.width <= w && r.y + r.height <= h);
            }
            l.focus_dir(Direction::Left, area);
        }
    }
}
