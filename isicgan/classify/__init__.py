"""The classifier study: six thesis classifiers over phases, control arms and seeds.

Modules, one concern each:
  datasets   real splits and synthetic batches from disk; augmentation; the training set of
             every phase x arm x seed (``design``)
  models     scikit-learn models on pixels, the Keras CNN and the frozen-backbone head
  backbones  InceptionV3 / EfficientNetB5 feature extraction (each image once, cached)
  study      one classifier over the whole design -> runs.csv + predictions.csv.gz
  metrics    threshold metrics, ROC-AUC, average precision, ISIC 2024 partial AUC, bootstrap
  tables     thesis tables 6.1-6.6, arms table, thesis comparison, run information
  figures    seaborn figures of the report
"""
