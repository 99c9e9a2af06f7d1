//! Length bucketing: which texts share one forward pass.
//!
//! A forward pass costs roughly (texts × longest text) tokens, so one long
//! post padded together with twenty "ok"s would make every "ok" as expensive
//! as the post. Sorting by length and cutting the sorted run into
//! sub-batches keeps the padding small, and a token budget per sub-batch
//! bounds the activation memory (attention and the 1536-wide feed-forward
//! layer grow with it).

/// Groups text indices into sub-batches, shortest texts first.
///
/// `lengths[i]` is the token count of text `i`. Each returned group holds
/// indices into `lengths`, and is padded to its last (longest) member; a
/// group grows while its padded size stays within `token_budget`. A text
/// longer than the budget gets a group of its own. Every index appears in
/// exactly one group.
pub(crate) fn plan(lengths: &[usize], token_budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so text i is the longest of the group it joins.
        if !current.is_empty() && (current.len() + 1) * lengths[i] > token_budget {
            groups.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_has_no_groups() {
        assert!(plan(&[], 100).is_empty());
    }

    #[test]
    fn short_texts_share_a_group_and_a_long_one_goes_alone() {
        let groups = plan(&[5, 120, 4, 6], 128);
        assert_eq!(groups, vec![vec![2, 0, 3], vec![1]]);
    }

    #[test]
    fn padded_size_stays_within_the_budget() {
        let lengths: Vec<usize> = (0..200).map(|i| 3 + (i * 37) % 126).collect();
        let groups = plan(&lengths, 1024);
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        for group in &groups {
            let longest = group.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(group.len() == 1 || group.len() * longest <= 1024);
        }
    }

    #[test]
    fn a_text_over_the_budget_still_gets_a_group() {
        assert_eq!(plan(&[300, 2], 128), vec![vec![1], vec![0]]);
    }
}
