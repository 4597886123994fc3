//! `fixed` mode, determinism, error paths and property tests of the mask generator.

use jepa_models::masks::{
    ContextLists, FixedOptions, MaskBatch, MaskConfig, MaskError, MaskGenerator, MaskMode,
};
use proptest::prelude::*;

/// Invariants every batch must satisfy (methods.md §2.4 "both modes").
fn check_batch(cfg: &MaskConfig, mb: &MaskBatch, b: usize, disjoint: bool) {
    let n = cfg.num_patches();
    assert_eq!((mb.enc.len(), mb.pred.len()), (cfg.nenc, cfg.npred));
    assert_eq!(mb.context_lengths.len(), b * cfg.nenc);
    for batch in mb.enc.iter().chain(&mb.pred) {
        assert_eq!(batch.rows(), b);
        assert!(batch.k() >= 1, "K >= 1");
        assert_eq!(batch.as_flat().len(), b * batch.k());
    }
    for img in 0..b {
        for ctx in &mb.enc {
            let c = ctx.valid_row(img);
            assert!(!c.is_empty());
            assert!(c.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
            assert!(c.iter().all(|&i| i < n));
            if disjoint {
                for p in &mb.pred {
                    assert!(
                        c.iter().all(|i| !p.row(img).contains(i)),
                        "context overlaps target"
                    );
                }
            }
        }
        for p in &mb.pred {
            let t = p.row(img);
            assert_eq!(t.len(), mb.target_size.area());
            assert!(t.windows(2).all(|w| w[0] < w[1]) && t.iter().all(|&i| i < n));
        }
    }
}

#[test]
fn small_grid_never_hangs_and_covers_every_cell() {
    let cfg = MaskConfig::small_grid(8, 8);
    let gen = MaskGenerator::new(cfg.clone()).unwrap();
    let mut covered_by_target = [false; 64];
    let mut covered_by_context = [false; 64];
    for step in 0..100 {
        let mb = gen.generate(64, 7, step).unwrap();
        check_batch(&cfg, &mb, 64, true);
        assert!(mb.enc[0].k() >= 4, "min_keep 4 holds after truncation");
        for p in &mb.pred {
            p.as_flat()
                .iter()
                .for_each(|&i| covered_by_target[i] = true);
        }
        mb.enc[0]
            .as_flat()
            .iter()
            .for_each(|&i| covered_by_context[i] = true);
    }
    // Unlike parity, the last row and column are reachable (inclusive position bound).
    assert!(
        covered_by_target.iter().all(|&c| c),
        "target never covers some cell"
    );
    assert!(
        covered_by_context.iter().all(|&c| c),
        "context never covers some cell"
    );
}

#[test]
fn random_subset_truncation_is_not_a_prefix() {
    let cfg = MaskConfig::small_grid(8, 8);
    let gen = MaskGenerator::new(cfg).unwrap();
    let mut saw_non_prefix = false;
    for step in 0..20 {
        let mb = gen.generate(32, 1, step).unwrap();
        let k = mb.enc[0].k();
        assert_eq!(k, *mb.context_lengths.iter().min().unwrap());
        // The row with the longest list: a prefix would keep only its top-left entries.
        let longest = (0..32).max_by_key(|&b| mb.context_lengths[b]).unwrap();
        let row = mb.enc[0].row(longest);
        if mb.context_lengths[longest] > k && row.iter().any(|&i| i / 8 == 7 || i % 8 == 7) {
            saw_non_prefix = true;
        }
    }
    assert!(
        saw_non_prefix,
        "truncation never kept a bottom/right patch of a long list"
    );
}

#[test]
fn padding_keeps_every_context_and_marks_it() {
    let mut cfg = MaskConfig::small_grid(8, 8);
    cfg.mode = MaskMode::Fixed(FixedOptions {
        context_lists: ContextLists::Pad,
        ..FixedOptions::default()
    });
    let gen = MaskGenerator::new(cfg.clone()).unwrap();
    let mb = gen.generate(16, 0, 3).unwrap();
    check_batch(&cfg, &mb, 16, true);
    let enc = &mb.enc[0];
    assert_eq!(enc.k(), *mb.context_lengths.iter().max().unwrap());
    let mask = enc.key_mask().expect("padded batches carry a key mask");
    for b in 0..16 {
        let real = mask[b * enc.k()..(b + 1) * enc.k()]
            .iter()
            .filter(|&&v| v)
            .count();
        assert_eq!(real, mb.context_lengths[b]);
        assert_eq!(enc.valid_row(b).len(), real);
    }
}

#[test]
fn same_seed_and_step_replay_different_ones_differ() {
    for cfg in [MaskConfig::official(14, 14), MaskConfig::small_grid(8, 8)] {
        let gen = MaskGenerator::new(cfg).unwrap();
        let a = gen.generate(8, 11, 42).unwrap();
        assert_eq!(a, gen.generate(8, 11, 42).unwrap());
        assert_ne!(a, gen.generate(8, 11, 43).unwrap());
        assert_ne!(a, gen.generate(8, 12, 42).unwrap());
    }
}

#[test]
fn impossible_context_is_a_typed_error_not_a_hang() {
    let mut cfg = MaskConfig::small_grid(8, 8);
    cfg.pred_scale = (1.0, 1.0);
    cfg.aspect_ratio = (1.0, 1.0); // every target is the whole grid: no free patch is left
    let err = MaskGenerator::new(cfg)
        .unwrap()
        .generate(4, 0, 0)
        .unwrap_err();
    assert!(
        matches!(err, MaskError::ContextTooSmall { image: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn bad_configs_are_rejected() {
    let base = MaskConfig::small_grid(8, 8);
    type Edit = Box<dyn Fn(&mut MaskConfig)>;
    let cases: Vec<Edit> = vec![
        Box::new(|c| c.height = 0),
        Box::new(|c| c.enc_scale = (0.9, 0.8)),
        Box::new(|c| c.pred_scale = (0.0, 0.2)),
        Box::new(|c| c.pred_scale = (0.1, 1.5)),
        Box::new(|c| c.aspect_ratio = (f64::NAN, 1.0)),
        Box::new(|c| c.enc_aspect_ratio = (-1.0, 1.0)),
        Box::new(|c| c.npred = 0),
        Box::new(|c| c.nenc = 0),
        Box::new(|c| {
            c.mode = MaskMode::Parity;
            c.width = 1;
        }),
    ];
    for (i, edit) in cases.iter().enumerate() {
        let mut cfg = base.clone();
        edit(&mut cfg);
        assert!(
            matches!(MaskGenerator::new(cfg), Err(MaskError::InvalidConfig(_))),
            "case {i} accepted"
        );
    }
    let gen = MaskGenerator::new(base).unwrap();
    assert_eq!(gen.generate(0, 0, 0).unwrap_err(), MaskError::EmptyBatch);
}

fn arb_config() -> impl Strategy<Value = MaskConfig> {
    (
        (1usize..20, 1usize..20),
        (0.01f64..1.0, 0.0f64..0.5),
        (0.01f64..0.6, 0.0f64..0.3),
        (0.2f64..3.0, 0.0f64..2.0),
        (1usize..3, 1usize..6, 0usize..12),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |((h, w), (es, ed), (ps, pd), (a, ad), (nenc, npred, mk), (par, ov, pad))| {
                let mut cfg = MaskConfig::small_grid(h, w);
                cfg.enc_scale = (es, (es + ed).min(1.0));
                cfg.pred_scale = (ps, (ps + pd).min(1.0));
                cfg.aspect_ratio = (a, a + ad);
                (cfg.nenc, cfg.npred, cfg.min_keep, cfg.allow_overlap) = (nenc, npred, mk, ov);
                cfg.mode = if par {
                    MaskMode::Parity
                } else {
                    MaskMode::Fixed(FixedOptions {
                        context_lists: if pad {
                            ContextLists::Pad
                        } else {
                            ContextLists::RandomSubset
                        },
                        ..FixedOptions::default()
                    })
                };
                cfg
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any config either fails with a typed error or yields batches meeting every invariant;
    /// nothing panics or loops.
    #[test]
    fn any_config_errors_cleanly_or_meets_invariants(cfg in arb_config(), b in 1usize..6, step in 0u64..1000) {
        let Ok(gen) = MaskGenerator::new(cfg.clone()) else { return Ok(()) };
        match gen.generate(b, 5, step) {
            Ok(mb) => {
                let parity = cfg.mode == MaskMode::Parity;
                check_batch(&cfg, &mb, b, !cfg.allow_overlap && (!parity || mb.relaxations == 0));
            }
            Err(e) => prop_assert!(
                matches!(e, MaskError::ContextTooSmall { .. } | MaskError::WouldHang(_)),
                "unexpected error {e:?}"
            ),
        }
    }
}
