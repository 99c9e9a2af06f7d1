//! Fits the head: multinomial logistic regression by full-batch gradient
//! descent with momentum and L2, classes weighted to balance. No random
//! numbers at all, so the same training text and model give the same head.

use super::head::{softmax, Head, Label};

/// Fitting settings; the defaults are what `data/gate/head.json` used.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
}

impl Default for Fit {
    fn default() -> Fit {
        Fit {
            epochs: 600,
            learning_rate: 4.0,
            l2: 1e-4,
        }
    }
}

/// One labelled training unit, already embedded.
pub struct Example {
    pub label: Label,
    pub embedding: Vec<f32>,
}

/// Fits a head on `examples` (all embeddings of length `dim`).
pub fn fit(examples: &[Example], dim: usize, fit: Fit, training_sha256: String) -> Head {
    let classes = Label::ALL.len();
    let class_weight = balanced_weights(examples);
    let mut weights = vec![vec![0f32; dim]; classes];
    let mut bias = vec![0f32; classes];
    let mut velocity_w = vec![vec![0f32; dim]; classes];
    let mut velocity_b = vec![0f32; classes];
    let momentum = 0.9;
    let total_weight: f32 = examples.iter().map(|e| class_weight[e.label.index()]).sum();
    for _ in 0..fit.epochs {
        let (grad_w, grad_b) = gradient(examples, &weights, &bias, &class_weight);
        for c in 0..classes {
            for d in 0..dim {
                let g = grad_w[c][d] / total_weight + fit.l2 * weights[c][d];
                velocity_w[c][d] = momentum * velocity_w[c][d] - fit.learning_rate * g;
                weights[c][d] += velocity_w[c][d];
            }
            let g = grad_b[c] / total_weight;
            velocity_b[c] = momentum * velocity_b[c] - fit.learning_rate * g;
            bias[c] += velocity_b[c];
        }
    }
    Head {
        training_sha256,
        weights,
        bias,
    }
}

/// Each class weighs as much as the others in total, so the large
/// `distress` file does not drown the smaller `mention` one.
fn balanced_weights(examples: &[Example]) -> Vec<f32> {
    let mut counts = vec![0usize; Label::ALL.len()];
    for e in examples {
        counts[e.label.index()] += 1;
    }
    let present = counts.iter().filter(|&&n| n > 0).count().max(1) as f32;
    let n = examples.len() as f32;
    counts
        .iter()
        .map(|&c| if c == 0 { 0.0 } else { n / (present * c as f32) })
        .collect()
}

/// The weighted cross-entropy gradient summed over all examples.
fn gradient(
    examples: &[Example],
    weights: &[Vec<f32>],
    bias: &[f32],
    class_weight: &[f32],
) -> (Vec<Vec<f32>>, Vec<f32>) {
    let classes = weights.len();
    let dim = weights[0].len();
    let mut grad_w = vec![vec![0f32; dim]; classes];
    let mut grad_b = vec![0f32; classes];
    let mut p = vec![0f32; classes];
    for e in examples {
        for (c, p) in p.iter_mut().enumerate() {
            *p = bias[c] + dot(&weights[c], &e.embedding);
        }
        softmax(&mut p);
        let w = class_weight[e.label.index()];
        for c in 0..classes {
            let err = w * (p[c] - f32::from(c == e.label.index()));
            grad_b[c] += err;
            for (g, x) in grad_w[c].iter_mut().zip(&e.embedding) {
                *g += err * x;
            }
        }
    }
    (grad_w, grad_b)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learned_deterministically() {
        // Five classes, each along its own axis with a little spread.
        let examples: Vec<Example> = Label::ALL
            .iter()
            .enumerate()
            .flat_map(|(i, &label)| {
                (0..4).map(move |k| {
                    let mut embedding = vec![0.1 * k as f32; 5];
                    embedding[i] = 1.0;
                    Example { label, embedding }
                })
            })
            .collect();
        let small = Fit {
            epochs: 200,
            ..Fit::default()
        };
        let head = fit(&examples, 5, small, "t".into());
        for e in &examples {
            let p = head.probabilities(&e.embedding);
            let best = (0..5).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, e.label.index());
        }
        let again = fit(&examples, 5, small, "t".into());
        assert_eq!(head.weights, again.weights);
    }
}
