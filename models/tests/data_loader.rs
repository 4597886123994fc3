//! Stratified split and the prefetching loader: shapes, determinism, resume, errors.

use std::sync::Arc;

use jepa_models::data::{
    stratified_split, ArrayDataset, DataError, Dataset, EvalTransform, ImageU8, Loader,
    LoaderConfig, Subset, TrainTransform, Transform,
};
use jepa_models::masks::{MaskConfig, MaskGenerator};

/// `n` 8x8 RGB images whose pixels encode their index; labels cycle through `classes`.
fn toy(n: usize, classes: usize) -> ArrayDataset {
    let pixels = (0..n)
        .flat_map(|i| std::iter::repeat_n((i % 251) as u8, 192))
        .collect();
    let labels = (0..n).map(|i| (i % classes) as u8).collect();
    ArrayDataset::new((8, 8, 3), pixels, labels, classes).unwrap()
}

#[test]
fn split_is_stratified_disjoint_and_deterministic() {
    // Unbalanced classes: 600 of class 0, 300 of class 1, 100 of class 2.
    let labels: Vec<usize> = (0..1000)
        .map(|i| usize::from(i >= 600) + usize::from(i >= 900))
        .collect();
    let (train, val) = stratified_split(&labels, 100, 7).unwrap();
    assert_eq!((train.len(), val.len()), (900, 100));
    let per_class = |idx: &[usize], c| idx.iter().filter(|&&i| labels[i] == c).count();
    assert_eq!(
        [per_class(&val, 0), per_class(&val, 1), per_class(&val, 2)],
        [60, 30, 10]
    );
    let mut all = [train.clone(), val.clone()].concat();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>(), "a partition");
    assert_eq!(
        stratified_split(&labels, 100, 7).unwrap(),
        (train, val.clone())
    );
    assert_ne!(stratified_split(&labels, 100, 8).unwrap().1, val);
    // Rounding: 10 from three classes of sizes 600/300/100 -> 6/3/1; 7 -> 4.2/2.1/0.7 -> 4/2/1.
    let (_, v) = stratified_split(&labels, 7, 0).unwrap();
    assert_eq!(
        [per_class(&v, 0), per_class(&v, 1), per_class(&v, 2)],
        [4, 2, 1]
    );
    assert!(stratified_split(&labels, 1001, 0).is_err());
}

fn eval8() -> Transform {
    Transform::Eval(EvalTransform::plain(8))
}

fn collect(loader: Loader) -> Vec<jepa_models::data::Batch> {
    loader.map(|b| b.unwrap()).collect()
}

#[test]
fn batches_have_shape_labels_and_cover_each_epoch() {
    let ds = Arc::new(toy(50, 5));
    let mut cfg = LoaderConfig::new(16, 3);
    cfg.end_epoch = Some(2);
    let loader = Loader::new(ds.clone(), eval8(), cfg, None).unwrap();
    assert_eq!(loader.batches_per_epoch(), 3, "drop_last: 50 / 16");
    let batches = collect(loader);
    assert_eq!(batches.len(), 6);
    for (k, b) in batches.iter().enumerate() {
        assert_eq!((b.step, b.shape), (k as u64, [16, 3, 8, 8]));
        assert_eq!(b.images.len(), 16 * 192);
        for (j, &i) in b.indices.iter().enumerate() {
            assert_eq!(b.labels[j], ds.label(i).unwrap());
            // Pixel value encodes the index: check the first value of every sample.
            let want = (f32::from(i as u8) / 255.0 - 0.485) / 0.229;
            assert!((b.images[j * 192] - want).abs() < 1e-4);
        }
    }
    let epoch0: Vec<usize> = batches[..3]
        .iter()
        .flat_map(|b| b.indices.clone())
        .collect();
    let epoch1: Vec<usize> = batches[3..]
        .iter()
        .flat_map(|b| b.indices.clone())
        .collect();
    let mut e0 = epoch0.clone();
    e0.sort_unstable();
    e0.dedup();
    assert_eq!(e0.len(), 48, "no sample twice within an epoch");
    assert_ne!(epoch0, epoch1, "reshuffled each epoch");
}

#[test]
fn keep_last_partial_batch_and_no_shuffle() {
    let mut cfg = LoaderConfig::new(16, 0);
    (cfg.drop_last, cfg.shuffle) = (false, false);
    let batches = collect(Loader::new(Arc::new(toy(50, 5)), eval8(), cfg, None).unwrap());
    assert_eq!(
        batches.iter().map(|b| b.shape[0]).collect::<Vec<_>>(),
        [16, 16, 16, 2]
    );
    assert_eq!(batches[3].indices, [48, 49]);
}

#[test]
fn output_is_independent_of_workers_and_resume_replays() {
    let ds = Arc::new(toy(64, 4));
    let tf = Transform::Train(TrainTransform::ijepa(8));
    let run = |workers, start_epoch, start_batch| {
        let mut cfg = LoaderConfig::new(8, 11);
        (cfg.workers, cfg.start_epoch, cfg.start_batch, cfg.end_epoch) =
            (workers, start_epoch, start_batch, Some(2));
        collect(Loader::new(ds.clone(), tf.clone(), cfg, None).unwrap())
    };
    let one = run(1, 0, 0);
    assert_eq!(one, run(3, 0, 0), "thread count must not change the data");
    let resumed = run(2, 1, 3);
    assert_eq!(resumed[..], one[8 + 3..], "resume at epoch 1, batch 3");
}

#[test]
fn masks_follow_the_global_step() {
    let gen = MaskGenerator::new(MaskConfig::small_grid(8, 8)).unwrap();
    let mut cfg = LoaderConfig::new(4, 0);
    cfg.end_epoch = Some(2);
    let ds = Arc::new(toy(12, 3));
    let batches = collect(Loader::new(ds, eval8(), cfg, Some((gen.clone(), 99))).unwrap());
    assert_eq!(batches.len(), 6);
    for b in &batches {
        let m = b.masks.as_ref().expect("masks attached");
        assert_eq!(m, &gen.generate(4, 99, b.step).unwrap());
        assert_eq!(m.enc[0].rows(), 4);
    }
}

/// A dataset whose sample 5 fails to load.
struct Flaky(ArrayDataset);

impl Dataset for Flaky {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn num_classes(&self) -> usize {
        self.0.num_classes()
    }
    fn label(&self, i: usize) -> Result<usize, DataError> {
        self.0.label(i)
    }
    fn image(&self, i: usize) -> Result<ImageU8, DataError> {
        if i == 5 {
            return Err(DataError::Decode {
                origin: "img5.jpg".into(),
                reason: "bad".into(),
            });
        }
        self.0.image(i)
    }
}

#[test]
fn a_failing_sample_ends_the_stream_with_its_error() {
    let mut cfg = LoaderConfig::new(4, 0);
    cfg.shuffle = false;
    let mut loader = Loader::new(Arc::new(Flaky(toy(16, 2))), eval8(), cfg, None).unwrap();
    assert!(loader.next().unwrap().is_ok());
    let err = loader.next().unwrap().unwrap_err();
    assert!(err.to_string().contains("img5.jpg"), "{err}");
    assert!(loader.next().is_none());
}

#[test]
fn bad_configs_fail_fast_and_dropping_an_endless_loader_returns() {
    let ds = Arc::new(toy(10, 2));
    let edits: [fn(&mut LoaderConfig); 4] = [
        |c| c.batch_size = 0,
        |c| c.batch_size = 11,
        |c| c.start_batch = 5,
        |c| c.prefetch = 0,
    ];
    for edit in edits {
        let mut cfg = LoaderConfig::new(4, 0);
        edit(&mut cfg);
        assert!(matches!(
            Loader::new(ds.clone(), eval8(), cfg, None),
            Err(DataError::InvalidConfig(_))
        ));
    }
    let mut cfg = LoaderConfig::new(2, 0);
    cfg.end_epoch = None;
    let mut endless = Loader::new(ds.clone(), eval8(), cfg, None).unwrap();
    assert_eq!(endless.nth(12).unwrap().unwrap().epoch, 2);
    drop(endless); // must not hang on the producer blocked in `send`
    let sub = Subset::new(ds.clone(), vec![9, 1]).unwrap();
    assert_eq!(sub.labels().unwrap(), vec![1, 1]);
    assert!(Subset::new(ds, vec![10]).is_err());
}
