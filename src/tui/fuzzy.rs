//! A small subsequence fuzzy matcher for the command palette and the session picker.
//!
//! Every query character must appear in order (case-insensitive). The score rewards matches at
//! word starts and consecutive runs, and penalises gaps, so `sr` ranks "split right" above
//! "session list…". Good enough for a few hundred candidates; no crate needed.

/// The score of `candidate` for `query`, or `None` when it does not match. An empty query
/// matches everything with score 0.
pub fn score(query: &str, candidate: &str) -> Option<i64> {
    let query: Vec<char> = query
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if query.is_empty() {
        return Some(0);
    }
    let chars: Vec<char> = candidate.chars().collect();
    let mut qi = 0;
    let mut total = 0i64;
    let mut last_match: Option<usize> = None;
    for (i, &c) in chars.iter().enumerate() {
        if qi == query.len() {
            break;
        }
        let lower = c.to_lowercase().next().unwrap_or(c);
        if lower != query[qi] {
            continue;
        }
        let word_start = i == 0
            || !chars[i - 1].is_alphanumeric()
            || (chars[i - 1].is_lowercase() && c.is_uppercase());
        let mut s = 1;
        if word_start {
            s += 8;
        }
        match last_match {
            Some(prev) if prev + 1 == i => s += 5,
            Some(prev) => s -= ((i - prev - 1) as i64).min(5),
            None => s -= (i as i64).min(3),
        }
        total += s;
        last_match = Some(i);
        qi += 1;
    }
    (qi == query.len()).then_some(total)
}

/// Indexes of `candidates` that match `query`, best first (ties keep the input order).
pub fn rank<S: AsRef<str>>(query: &str, candidates: &[S]) -> Vec<usize> {
    let mut scored: Vec<(i64, usize)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| score(query, c.as_ref()).map(|s| (s, i)))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequence_in_order_case_insensitive() {
        assert!(score("spr", "Split Right").is_some());
        assert!(score("rps", "Split Right").is_none());
        assert_eq!(score("", "anything"), Some(0));
    }

    #[test]
    fn word_starts_rank_first() {
        let names = ["session list", "split right", "show help"];
        assert_eq!(rank("sr", &names)[0], 1);
        assert_eq!(rank("help", &names), vec![2]);
    }

    #[test]
    fn unicode_candidates_do_not_panic() {
        assert!(score("日本", "日本語のチャット").is_some());
        assert!(score("🚀", "launch 🚀 now").is_some());
    }
}
