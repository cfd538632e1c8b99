//! Collisions between pending changes of different sources that touch the same file: where
//! each change's diff touches the base file, and how close two changes come.
//!
//! Pure functions over unified diffs. Positions are in the base file's numbering on a
//! half-line scale, so an insertion (which touches no base line, only the gap between two) has
//! a place of its own: base line `n` is `2n`, the gap before it is `2n - 1`. Replacing lines
//! `a..=b` covers `2a..=2b` (its inner gaps too); inserting before line `n` covers `2n - 1`.
//! Two insertions at the same gap therefore collide on the same line, while an insertion just
//! above a replaced line is adjacent to it.

use serde::Serialize;

/// How close two changes to the same file come. Ordered from least to most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Both touch the file, more than [`ADJACENT_LINES`] lines apart.
    DifferentArea,
    /// Within [`ADJACENT_LINES`] lines of each other.
    AdjacentLine,
    /// Their changed line ranges intersect.
    SameLine,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::SameLine => "same_line",
            Severity::AdjacentLine => "adjacent_line",
            Severity::DifferentArea => "different_area",
        }
    }
}

/// Changes this many base lines apart or closer are `adjacent_line`.
pub const ADJACENT_LINES: u64 = 5;

/// A touched span of the base file on the half-line scale (inclusive both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// Base lines `first..=last` (1-based) replaced or deleted.
    pub fn lines(first: u64, last: u64) -> Span {
        Span {
            start: 2 * first,
            end: 2 * last,
        }
    }

    /// An insertion in the gap before base line `line` (1-based; one past the end appends).
    pub fn insertion_before(line: u64) -> Span {
        let at = (2 * line).saturating_sub(1);
        Span { start: at, end: at }
    }

    /// Every line of the file, whatever its length: binary files, pure renames.
    pub fn whole_file() -> Span {
        Span {
            start: 0,
            end: u64::MAX,
        }
    }

    /// Base lines between two spans (0 when they touch or intersect).
    fn distance(self, other: Span) -> u64 {
        let gap = if self.end < other.start {
            other.start - self.end
        } else if other.end < self.start {
            self.start - other.end
        } else {
            return 0;
        };
        gap.div_ceil(2)
    }

    fn intersects(self, other: Span) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

/// Where a diff touches its base file. A diff without hunks that still changes the file
/// (binary files, renames without edits) touches all of it.
pub fn touched_spans(diff: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut old_line: u64 = 0;
    let mut in_hunk = false;
    // The base lines removed by the run of `-`/`+` lines being read, and whether it added any.
    let mut run: Option<(u64, u64)> = None;
    let mut run_inserts_at: Option<u64> = None;
    let mut close_run = |run: &mut Option<(u64, u64)>, inserts: &mut Option<u64>| match (
        run.take(),
        inserts.take(),
    ) {
        (Some((first, last)), _) => spans.push(Span::lines(first, last)),
        (None, Some(before)) => spans.push(Span::insertion_before(before)),
        (None, None) => {}
    };
    for line in diff.lines() {
        if let Some(header) = line.strip_prefix("@@ ") {
            close_run(&mut run, &mut run_inserts_at);
            old_line = hunk_old_start(header).unwrap_or(1);
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        match line.as_bytes().first() {
            Some(b'-') => {
                run = Some(match run {
                    Some((first, _)) => (first, old_line),
                    None => (old_line, old_line),
                });
                old_line += 1;
            }
            Some(b'+') => {
                run_inserts_at.get_or_insert(old_line);
            }
            Some(b'\\') => {}
            Some(b' ') | None => {
                close_run(&mut run, &mut run_inserts_at);
                old_line += 1;
            }
            _ => {
                close_run(&mut run, &mut run_inserts_at);
                in_hunk = false;
            }
        }
    }
    close_run(&mut run, &mut run_inserts_at);
    if spans.is_empty() && !diff.trim().is_empty() {
        spans.push(Span::whole_file());
    }
    spans
}

/// `-a,b +c,d @@` → the first base line of the hunk. An empty base side (`-0,0`) inserts
/// before line 1.
fn hunk_old_start(header: &str) -> Option<u64> {
    let old = header.strip_prefix('-')?.split_whitespace().next()?;
    let start: u64 = old.split(',').next()?.parse().ok()?;
    let count: u64 = old.split(',').nth(1).map_or(Some(1), |c| c.parse().ok())?;
    // With an empty old side the start names the line *after which* lines are added.
    Some(if count == 0 { start + 1 } else { start })
}

/// How close two changes of the same file come, from the spans their diffs touch.
pub fn severity(a: &[Span], b: &[Span]) -> Severity {
    let mut closest = u64::MAX;
    for x in a {
        for y in b {
            if x.intersects(*y) {
                return Severity::SameLine;
            }
            closest = closest.min(x.distance(*y));
        }
    }
    if closest <= ADJACENT_LINES {
        Severity::AdjacentLine
    } else {
        Severity::DifferentArea
    }
}

/// Lines added and removed by a unified diff (header lines excluded).
pub fn diff_stats(diff: &str) -> (u64, u64) {
    let mut added = 0;
    let mut removed = 0;
    let mut in_hunk = false;
    for line in diff.lines() {
        if line.starts_with("@@ ") {
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        match line.as_bytes().first() {
            Some(b'+') => added += 1,
            Some(b'-') => removed += 1,
            _ => {}
        }
    }
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use similar::TextDiff;

    fn diff(old: &str, new: &str) -> String {
        TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header("a/f", "b/f")
            .to_string()
    }

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    fn replace_line(n: usize, line: usize) -> String {
        let old = numbered(n);
        let new: String = (1..=n)
            .map(|i| {
                if i == line {
                    format!("changed {i}\n")
                } else {
                    format!("line {i}\n")
                }
            })
            .collect();
        diff(&old, &new)
    }

    #[test]
    fn a_replaced_line_is_a_span_of_that_base_line() {
        assert_eq!(
            touched_spans(&replace_line(40, 12)),
            vec![Span::lines(12, 12)]
        );
    }

    #[test]
    fn deletions_and_insertions_are_placed_in_base_numbering() {
        let old = numbered(30);
        let deleted: String = old
            .lines()
            .enumerate()
            .filter(|(i, _)| !(9..=11).contains(i))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert_eq!(
            touched_spans(&diff(&old, &deleted)),
            vec![Span::lines(10, 12)]
        );
        let inserted = old.replacen("line 20\n", "new\nline 20\n", 1);
        assert_eq!(
            touched_spans(&diff(&old, &inserted)),
            vec![Span::insertion_before(20)]
        );
        let appended = format!("{old}tail\n");
        assert_eq!(
            touched_spans(&diff(&old, &appended)),
            vec![Span::insertion_before(31)]
        );
        assert_eq!(
            touched_spans(&diff("", "new file\n")),
            vec![Span::insertion_before(1)]
        );
    }

    #[test]
    fn binary_and_rename_only_diffs_touch_the_whole_file() {
        let binary = touched_spans("Binary files a/x.png and b/x.png differ\n");
        assert_eq!(binary, vec![Span::whole_file()]);
        assert_eq!(
            severity(&binary, &touched_spans(&replace_line(9, 3))),
            Severity::SameLine
        );
        assert!(touched_spans("").is_empty());
    }

    #[test]
    fn severity_on_line_ranges() {
        let s = |first, last| vec![Span::lines(first, last)];
        assert_eq!(severity(&s(10, 12), &s(12, 20)), Severity::SameLine);
        assert_eq!(severity(&s(10, 12), &s(13, 13)), Severity::AdjacentLine);
        assert_eq!(severity(&s(10, 12), &s(17, 18)), Severity::AdjacentLine);
        assert_eq!(severity(&s(10, 12), &s(18, 18)), Severity::DifferentArea);
        assert_eq!(severity(&s(30, 31), &s(10, 12)), Severity::DifferentArea);
        // Two insertions in the same gap collide; one just above a replaced line is next to it.
        let ins = |before| vec![Span::insertion_before(before)];
        assert_eq!(severity(&ins(7), &ins(7)), Severity::SameLine);
        assert_eq!(severity(&ins(7), &s(7, 7)), Severity::AdjacentLine);
        assert_eq!(severity(&ins(8), &s(2, 9)), Severity::SameLine);
        // The closest pair of spans decides.
        let many = vec![Span::lines(1, 1), Span::lines(50, 50)];
        assert_eq!(severity(&many, &s(52, 52)), Severity::AdjacentLine);
    }

    #[test]
    fn severity_from_real_diffs() {
        let a = touched_spans(&replace_line(60, 20));
        assert_eq!(
            severity(&a, &touched_spans(&replace_line(60, 20))),
            Severity::SameLine
        );
        assert_eq!(
            severity(&a, &touched_spans(&replace_line(60, 24))),
            Severity::AdjacentLine
        );
        assert_eq!(
            severity(&a, &touched_spans(&replace_line(60, 40))),
            Severity::DifferentArea
        );
    }

    #[test]
    fn stats_count_lines_not_headers() {
        let d = diff("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(diff_stats(&d), (2, 1));
    }
}
