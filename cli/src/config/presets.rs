//! Named starting configurations. `vit-tiny-cifar` is the CPU small-scale start of methods.md §6
//! and the default; `quickstart` is sized to finish in a few minutes on 2 cores; `in1k-vith14` is
//! the released I-JEPA ImageNet recipe.

use super::{
    CjepaSection, DataSection, EcijepaSection, EvalSection, MaskModeName, MaskSection, Method,
    ModelSection, OptimSection, OutputSection, RunConfig, TrainSection,
};

/// Preset names with a one-line description, in the order `--help` lists them.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "vit-tiny-cifar",
        "ViT-Tiny/4 at 32 px, predictor 96/4, batch 128, 100 epochs (default)",
    ),
    (
        "quickstart",
        "ViT-Tiny/4 with 6 blocks, predictor 96/2, C-JEPA variant B, batch 64, 300 steps: minutes on 2 cores",
    ),
    (
        "cifar-cjepa-b",
        "ViT-Tiny/4 at 32 px, C-JEPA variant B (beta 0.1), batch 128, 780 steps: the issue-6 proxy recipe",
    ),
    (
        "cifar-cjepa-b-hour",
        "cifar-cjepa-b at lr 5e-4 for 4000 steps with bf16 products: the one-hour contest recipe (~55 min on 2 cores)",
    ),
    (
        "vit-small-stl64",
        "ViT-Small/8 at 64 px, predictor 192/6, batch 128, 100 epochs",
    ),
    (
        "in1k-vith14",
        "official I-JEPA ViT-H/14 at 224 px, predictor 384/12, batch 2048, 300 epochs",
    ),
];

fn vit_tiny_cifar() -> RunConfig {
    RunConfig {
        preset: None,
        method: Method::Ijepa,
        seed: 0,
        device: "cpu".into(),
        threads: 0,
        matmul_precision: "highest".into(),
        data: DataSection {
            path: None,
            workers: 2,
            hflip: false,
            crop_scale_min: 0.3,
            color_jitter: 0.0,
            grayscale: 0.0,
            holdout: 0,
        },
        model: ModelSection {
            size: "tiny".into(),
            depth: 0,
            image_size: 32,
            patch_size: 4,
            pred_dim: 96,
            pred_depth: 4,
        },
        train: TrainSection {
            epochs: 100,
            steps: 0,
            batch_size: 128,
            checkpoint_every: 1000,
            log_every: 10,
            rankme_every: 200,
            loss: "smooth-l1".into(),
        },
        optim: OptimSection {
            lr: 1e-3,
            start_lr: 2e-4,
            final_lr: 1e-6,
            warmup_epochs: 10.0,
            weight_decay: 0.04,
            final_weight_decay: 0.4,
            ema_start: 0.996,
            ema_end: 1.0,
        },
        mask: MaskSection {
            mode: MaskModeName::Fixed,
            npred: 4,
            nenc: 1,
            pred_scale: [0.15, 0.2],
            enc_scale: [0.85, 1.0],
            aspect_ratio: [0.75, 1.5],
            min_keep: 4,
            allow_overlap: false,
        },
        output: OutputSection {
            dir: None,
            plots: true,
        },
        cjepa: CjepaSection {
            variant: "predictions".into(),
            beta: 1.0,
            var_weight: 1.0,
            cov_weight: 0.04,
            inv_weight: 0.0,
        },
        ecijepa: EcijepaSection {
            conditioning: "block-mean".into(),
            dropout: 0.1,
        },
        eval: EvalSection {
            every: 0,
            train_images: 5000,
            test_images: 2000,
            linear: true,
        },
    }
}

/// C-JEPA variant B (methods.md §4.4) with VICReg's own coefficients (λ = μ = 25, ν = 1) at
/// β = 0.1: the recipe that beat random init in RESULTS.md (issue 6).
fn variant_b(c: &mut RunConfig) {
    c.method = Method::Cjepa;
    c.cjepa = CjepaSection {
        variant: "predictions-and-context".into(),
        beta: 0.1,
        var_weight: 25.0,
        cov_weight: 1.0,
        inv_weight: 25.0,
    };
}

/// The preset called `name`, or `None`.
pub fn preset(name: &str) -> Option<RunConfig> {
    let mut c = vit_tiny_cifar();
    match name {
        "vit-tiny-cifar" => {}
        "quickstart" => {
            variant_b(&mut c);
            c.model.depth = 6;
            c.model.pred_depth = 2;
            c.train.epochs = 0;
            c.train.steps = 300;
            c.train.batch_size = 64;
            c.train.checkpoint_every = 0;
            c.train.rankme_every = 50;
            c.optim.warmup_epochs = 0.5;
            c.optim.ema_start = 0.99;
        }
        "cifar-cjepa-b" => {
            variant_b(&mut c);
            c.train.epochs = 0;
            c.train.steps = 780;
            c.train.rankme_every = 130;
            c.train.checkpoint_every = 390;
            c.optim.warmup_epochs = 0.3;
            c.optim.ema_start = 0.99;
        }
        "cifar-cjepa-b-hour" => {
            variant_b(&mut c);
            c.matmul_precision = "medium".into();
            c.train.epochs = 0;
            c.train.steps = 4000;
            c.train.rankme_every = 250;
            c.train.checkpoint_every = 500;
            c.optim.lr = 5e-4;
            c.optim.start_lr = 1e-4;
            c.optim.warmup_epochs = 0.3;
            c.optim.ema_start = 0.99;
        }
        "vit-small-stl64" => {
            c.model.size = "small".into();
            c.model.image_size = 64;
            c.model.patch_size = 8;
            c.model.pred_dim = 192;
            c.model.pred_depth = 6;
        }
        "in1k-vith14" => {
            c.model.size = "huge".into();
            c.model.image_size = 224;
            c.model.patch_size = 14;
            c.model.pred_dim = 384;
            c.model.pred_depth = 12;
            c.train.epochs = 300;
            c.train.batch_size = 2048;
            c.optim.warmup_epochs = 40.0;
            c.mask.mode = MaskModeName::Parity;
            c.mask.min_keep = 10;
            c.data.workers = 8;
        }
        _ => return None,
    }
    c.preset = Some(name.to_string());
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_preset_exists_and_round_trips_through_toml() {
        for (name, _) in PRESETS {
            let c = preset(name).unwrap();
            assert_eq!(c.preset.as_deref(), Some(*name));
            let back: RunConfig = toml::from_str(&c.to_toml()).unwrap();
            assert_eq!(back, c, "{name}");
        }
        assert!(preset("nope").is_none());
    }

    #[test]
    fn pretrain_help_lists_every_preset() {
        use clap::CommandFactory;
        let cmd = crate::args::Cli::command();
        let pretrain = cmd.find_subcommand("pretrain").unwrap();
        let arg = pretrain
            .get_arguments()
            .find(|a| a.get_id() == "preset")
            .unwrap();
        let help = arg.get_help().unwrap().to_string();
        for (name, _) in PRESETS {
            assert!(help.contains(name), "--preset help lacks {name}: {help}");
        }
    }

    /// A preset must train the same run as the experiment config RESULTS.md measured (only the
    /// hold-out, evaluation and checkpoint cadence may differ: they do not change the trajectory).
    fn assert_preset_trains_config(name: &str, text: &str) {
        let file = crate::config::parse_config_text(text, name, None).unwrap();
        let p = preset(name).unwrap();
        assert_eq!(
            (&p.method, &p.model, &p.optim, &p.mask, &p.cjepa, p.seed),
            (
                &file.method,
                &file.model,
                &file.optim,
                &file.mask,
                &file.cjepa,
                file.seed
            ),
            "{name}"
        );
        assert_eq!(
            (p.train.steps, p.train.batch_size, &p.train.loss),
            (file.train.steps, file.train.batch_size, &file.train.loss),
            "{name}"
        );
        assert_eq!(p.matmul_precision, file.matmul_precision, "{name}");
        assert_eq!(
            (p.data.hflip, p.data.crop_scale_min, p.data.color_jitter),
            (
                file.data.hflip,
                file.data.crop_scale_min,
                file.data.color_jitter
            ),
            "{name}"
        );
    }

    #[test]
    fn contest_presets_are_the_configs_of_results_md() {
        assert_preset_trains_config(
            "cifar-cjepa-b",
            include_str!("../../../experiments/configs/contest-cjepa-b.toml"),
        );
        assert_preset_trains_config(
            "cifar-cjepa-b-hour",
            include_str!("../../../experiments/configs/contest-cjepa-b-stable.toml"),
        );
    }

    #[test]
    fn every_experiment_config_parses_and_validates() {
        // RESULTS.md names these files in its commands; a key renamed in the CLI must not leave
        // one that no longer loads.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.display().to_string();
            let cfg = crate::config::parse_config_text(&text, &name, None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            crate::config::validate(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen += 1;
        }
        assert!(seen >= 9, "only {seen} configs in {}", dir.display());
    }
}
