//! From the CLI's [`RunConfig`] to the trainer's [`TrainConfig`]: model sizes, data source
//! (recognised from the path), transform, masks, schedules and cadences.

use std::path::Path;

use jepa_models::data::TrainTransform;
use jepa_models::jepa::{self, CJepaConfig, EcConfig};
use jepa_models::train::{DataSource, Duration, ScheduleConfig, TrainConfig};
use jepa_models::vit::{VitConfig, VitSize};

use crate::config::{cjepa_variant, conditioning, mask_config, regression_loss, Method, RunConfig};
use crate::datasets;
use crate::error::{CliError, CliResult};

/// The trainer's data source for `path`.
pub fn data_source(path: &Path) -> CliResult<DataSource> {
    Ok(match datasets::kind_of(path)? {
        "cifar" => DataSource::Cifar10 {
            dir: path.to_path_buf(),
        },
        "idx" => DataSource::FashionMnist {
            dir: path.to_path_buf(),
        },
        _ => DataSource::ImageFolder {
            train: path.to_path_buf(),
            test: None,
        },
    })
}

/// The encoder of a run configuration.
pub fn encoder_config(c: &RunConfig) -> CliResult<VitConfig> {
    let size = VitSize::parse(&c.model.size)
        .ok_or_else(|| CliError::Config(format!("unknown model size `{}`", c.model.size)))?;
    let mut enc = VitConfig::sized(size, c.model.image_size, c.model.patch_size);
    if c.model.depth > 0 {
        enc.depth = c.model.depth;
    }
    Ok(enc)
}

/// Builds the trainer configuration; `data` is the resolved data source.
pub fn train_config(c: &RunConfig, data: DataSource, out_dir: &Path) -> CliResult<TrainConfig> {
    let method = match c.method {
        Method::Ijepa => jepa::Method::IJepa,
        Method::Cjepa => jepa::Method::CJepa,
        Method::Ecijepa => jepa::Method::EcIJepa,
    };
    let enc = encoder_config(c)?;
    let mut tc = TrainConfig::with_encoder(
        method,
        enc.clone(),
        c.model.pred_dim,
        c.model.pred_depth,
        data,
        out_dir.to_path_buf(),
    );
    let mut transform = TrainTransform::ijepa(enc.img_size);
    transform.scale = (c.data.crop_scale_min, 1.0);
    transform.hflip = c.data.hflip;
    transform.color_jitter = c.data.color_jitter;
    transform.grayscale = c.data.grayscale;
    transform.channels = enc.in_chans;
    tc.transform = transform;
    tc.masks = mask_config(c);
    tc.batch_size = c.train.batch_size;
    tc.duration = if c.train.steps > 0 {
        Duration::Steps(c.train.steps)
    } else {
        Duration::Epochs(c.train.epochs)
    };
    tc.schedule = ScheduleConfig {
        start_lr: c.optim.start_lr,
        ref_lr: c.optim.lr,
        final_lr: c.optim.final_lr,
        warmup_epochs: c.optim.warmup_epochs,
        ref_wd: c.optim.weight_decay,
        final_wd: c.optim.final_weight_decay,
        ema: (c.optim.ema_start, c.optim.ema_end),
    };
    tc.jepa.loss = regression_loss(&c.train.loss)
        .ok_or_else(|| CliError::Config(format!("unknown loss `{}`", c.train.loss)))?;
    tc.jepa.cjepa = CJepaConfig {
        variant: cjepa_variant(&c.cjepa.variant).ok_or_else(|| {
            CliError::Config(format!("unknown C-JEPA variant `{}`", c.cjepa.variant))
        })?,
        beta: c.cjepa.beta as f32,
        var_coeff: c.cjepa.var_weight as f32,
        cov_coeff: c.cjepa.cov_weight as f32,
        inv_coeff: c.cjepa.inv_weight as f32,
        ..CJepaConfig::default()
    };
    tc.jepa.ec = EcConfig {
        conditioning: conditioning(&c.ecijepa.conditioning).ok_or_else(|| {
            CliError::Config(format!("unknown conditioning `{}`", c.ecijepa.conditioning))
        })?,
        dropout: c.ecijepa.dropout,
        ..EcConfig::default()
    };
    tc.seed = c.seed;
    tc.threads = c.threads;
    tc.workers = c.data.workers;
    tc.checkpoint_every = c.train.checkpoint_every;
    tc.log_every = c.train.log_every.max(1);
    tc.collapse_every = c.train.rankme_every;
    tc.eval_every = c.eval.every;
    tc.validate()?;
    Ok(tc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset;

    #[test]
    fn presets_map_to_valid_trainer_configs() {
        for (name, _) in crate::config::PRESETS {
            let c = preset(name).unwrap();
            let data = DataSource::Synthetic {
                samples: 64,
                classes: 2,
                size: c.model.image_size,
                seed: 0,
            };
            let tc = train_config(&c, data, Path::new("/tmp/x")).unwrap();
            assert_eq!(tc.jepa.encoder.img_size, c.model.image_size, "{name}");
            assert_eq!(tc.masks.height, c.model.image_size / c.model.patch_size);
            assert_eq!(tc.schedule.ref_lr, c.optim.lr);
        }
    }

    #[test]
    fn depth_override_and_steps_duration() {
        let mut c = preset("quickstart").unwrap();
        c.model.depth = 3;
        let tc = train_config(
            &c,
            DataSource::Synthetic {
                samples: 8,
                classes: 2,
                size: 32,
                seed: 0,
            },
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(tc.jepa.encoder.depth, 3);
        assert_eq!(tc.duration, Duration::Steps(300));
    }

    #[test]
    fn levers_reach_the_trainer_config() {
        let mut c = preset("vit-tiny-cifar").unwrap();
        c.method = Method::Cjepa;
        c.cjepa.variant = "two-views".into();
        c.cjepa.beta = 0.04;
        c.train.loss = "mse".into();
        (c.data.color_jitter, c.data.grayscale, c.data.hflip) = (0.5, 0.2, true);
        let data = DataSource::Synthetic {
            samples: 8,
            classes: 2,
            size: 32,
            seed: 0,
        };
        let tc = train_config(&c, data, Path::new("x")).unwrap();
        assert_eq!(tc.jepa.cjepa.variant, jepa::CJepaVariant::TwoViews);
        assert_eq!(tc.jepa.cjepa.beta, 0.04);
        assert_eq!(tc.jepa.loss, jepa::RegressionLoss::Mse);
        let t = &tc.transform;
        assert_eq!((t.color_jitter, t.grayscale, t.hflip), (0.5, 0.2, true));
    }
}
