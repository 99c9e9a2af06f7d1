use super::*;
use Strategy::{EmotionalReaction as Er, Exploration as Ex, Interpretation as Ip};

/// A unit vector on `axis`, nudged by `i` so no two are identical.
fn near(axis: usize, i: usize) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    v[axis] = 1.0;
    v[20 + i % 50] = 0.2;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// `(axis, label, count)` groups, each example its own seeker post.
fn examples(groups: &[(usize, Strategy, usize)]) -> Examples {
    let (mut ids, mut labels, mut vectors) = (Vec::new(), Vec::new(), Vec::new());
    for &(axis, label, count) in groups {
        for _ in 0..count {
            let i = ids.len();
            ids.push(format!("s{i}"));
            labels.push(label);
            vectors.extend(near(axis, i));
        }
    }
    Examples::from_parts(ids, labels, vectors)
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn held_out_figures_match_a_hand_computation() {
    // Three separable groups, plus two responses that sit with the
    // emotional reactions but are labelled exploration: held out, the
    // judge calls them ER. Confusion (gold rows ER, EX, IP):
    //   ER [100, 0, 0]   EX [2, 100, 0]   IP [0, 0, 200]; n = 402.
    let data = examples(&[(0, Er, 100), (1, Ex, 100), (0, Ex, 2), (2, Ip, 200)]);
    let (judge, q) = Judge::train(&data, &HashSet::new(), 11, 200).unwrap();
    assert_eq!(q.training, Training::Disjoint);
    assert_eq!((q.pool, q.pool_per_strategy), (402, [100, 102, 200]));
    let m = &q.held_out;
    assert_eq!(m.n, 402);
    close(m.accuracy, 400.0 / 402.0);
    close(m.per_strategy[0].precision, 100.0 / 102.0);
    close(m.per_strategy[1].recall, 100.0 / 102.0);
    close(m.per_strategy[2].f1, 1.0);
    let f1_er = 2.0 * (100.0 / 102.0) / (1.0 + 100.0 / 102.0);
    close(m.macro_f1, (2.0 * f1_er + 1.0) / 3.0);
    assert!(q.held_out_ci.accuracy.0 <= m.accuracy && m.accuracy <= q.held_out_ci.accuracy.1);
    // The baseline calls everything IP: precision 200/402, recall 1.
    close(q.baseline.accuracy, 200.0 / 402.0);
    let p = 200.0 / 402.0;
    close(q.baseline.macro_f1, (2.0 * p / (1.0 + p)) / 3.0);
    // Replies on each axis are judged by their text, not their claim.
    assert_eq!(judge.strategy("new", &near(1, 7)), Ex);
    assert_eq!(judge.strategy("new", &near(2, 7)), Ip);
}

#[test]
fn evaluated_posts_stay_out_of_training_until_too_few_remain() {
    let data = examples(&[(0, Er, 150), (1, Ex, 150), (2, Ip, 150)]);
    let some: HashSet<String> = (0..100).map(|i| format!("s{i}")).collect();
    let (_, q) = Judge::train(&data, &some, 1, 50).unwrap();
    assert_eq!(
        (q.training, q.pool, q.evaluated_excluded),
        (Training::Disjoint, 350, 100)
    );

    let all: HashSet<String> = data.seeker_ids.iter().cloned().collect();
    let (judge, q) = Judge::train(&data, &all, 1, 50).unwrap();
    assert_eq!(
        (q.training, q.pool, q.evaluated_excluded),
        (Training::CrossFit, 450, 0)
    );
    assert_eq!(judge.models.len(), FOLDS);
    close(q.held_out.accuracy, 1.0);
    assert_eq!(judge.strategy("s3", data.vector(3)), Er);
}

#[test]
fn folds_keep_a_post_together_and_follow_the_seed() {
    assert_eq!(fold_of(5, "abc"), fold_of(5, "abc"));
    let spread: HashSet<usize> = (0..100).map(|i| fold_of(5, &format!("p{i}"))).collect();
    assert_eq!(spread.len(), FOLDS);
    let moved = (0..100)
        .filter(|i| fold_of(5, &format!("p{i}")) != fold_of(6, &format!("p{i}")))
        .count();
    assert!(
        moved > 50,
        "only {moved} of 100 posts changed fold with the seed"
    );
}

#[test]
fn too_few_examples_of_a_strategy_is_a_clear_error() {
    let data = examples(&[(0, Er, 200), (1, Ex, 3), (2, Ip, 200)]);
    let error = Judge::train(&data, &HashSet::new(), 1, 10).err().unwrap();
    let text = error.to_string();
    assert!(
        text.contains("EX 3") && text.contains("--judge off"),
        "{text}"
    );
}

#[test]
fn majority_breaks_ties_in_strategy_order() {
    assert_eq!(majority([Ip, Er, Ip, Er].into_iter()), Er);
    assert_eq!(majority([Ex, Ip, Ip].into_iter()), Ip);
}

#[test]
fn a_cross_fit_reply_is_judged_by_the_model_that_never_saw_its_post() {
    // Post "x" has the only responses along axis 4, all labelled IP; along
    // axis 3 sit emotional reactions. A model that saw "x" calls a reply
    // between the two axes IP; one that did not sees only the axis-3 part.
    let mut data = examples(&[(0, Er, 100), (1, Ex, 100), (2, Ip, 100), (3, Er, 30)]);
    for i in 0..20 {
        data.seeker_ids.push("x".into());
        data.labels.push(Ip);
        data.vectors.extend(near(4, i));
    }
    let mut reply = vec![0f32; DIM];
    reply[3] = 0.6;
    reply[4] = 0.8;

    let (with_x, q) = Judge::train(&data, &HashSet::new(), 9, 20).unwrap();
    assert_eq!(q.training, Training::Disjoint);
    assert_eq!(
        with_x.strategy("x", &reply),
        Ip,
        "the set-up must tell the two apart"
    );

    // Not the first fold, so judging with the first fold's model fails too.
    assert_ne!(fold_of(9, "x"), 0);
    let everything: HashSet<String> = data.seeker_ids.iter().cloned().collect();
    let (cross_fit, q) = Judge::train(&data, &everything, 9, 20).unwrap();
    assert_eq!(q.training, Training::CrossFit);
    assert_eq!(cross_fit.strategy("x", &reply), Er);
}
