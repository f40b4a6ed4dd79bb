import StrataCore

/// Registers the built-in layers under their Keras class names.
public enum LayersPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(aliased: [
      (InputLayer.self, ["Input"]),
      (Conv2D.self, ["Convolution2D"]),
      (MaxPooling2D.self, ["MaxPool2D"]),
      (AveragePooling2D.self, ["AvgPool2D"]),
      (GlobalAveragePooling2D.self, ["GlobalAvgPool2D"]),
      (GlobalMaxPooling2D.self, ["GlobalMaxPool2D"]),
      (MaxNorm.self, ["max_norm"]),
      (UnitNorm.self, ["unit_norm"]),
      (MinMaxNorm.self, ["min_max_norm"]),
      (NonNeg.self, ["non_neg"]),
      (L1.self, ["l1"]),
      (L2.self, ["l2"]),
      (L1L2.self, ["l1l2"]),
      (SeparableConv2D.self, ["SeparableConvolution2D"]),
      (Conv2DTranspose.self, ["Convolution2DTranspose"]),
      (MaxPooling1D.self, ["MaxPool1D"]),
      (AveragePooling1D.self, ["AvgPool1D"]),
      (GlobalMaxPooling1D.self, ["GlobalMaxPool1D"]),
      (GlobalAveragePooling1D.self, ["GlobalAvgPool1D"]),
    ])
    try registrar.register(
      types: Dense.self, Flatten.self, Reshape.self, Dropout.self, ActivationLayer.self,
      BatchNormalization.self, ZeroPadding2D.self, Rescaling.self, Resizing.self, CenterCrop.self,
      RandomFlip.self, RandomCrop.self, RandomTranslation.self, RandomZoom.self,
      RandomRotation.self, RandomBrightness.self, RandomContrast.self, Add.self, Subtract.self,
      Multiply.self, Average.self, Maximum.self, Minimum.self, Concatenate.self, ReLULayer.self,
      SoftmaxLayer.self, ELULayer.self, DepthwiseConv2D.self, Normalization.self, Cropping2D.self,
      ScalarOperation.self, CustomScaleLayer.self, LayerScale.self,
      LayerNormalization.self, UpSampling2D.self, Permute.self,
      RepeatVector.self, GaussianNoise.self, GaussianDropout.self, SpatialDropout1D.self,
      SpatialDropout2D.self, ActivityRegularization.self, Embedding.self, Conv1D.self,
      SimpleRNN.self, LSTM.self, GRU.self, UpSampling1D.self, ZeroPadding1D.self, Cropping1D.self,
      Masking.self, Bidirectional.self, TimeDistributed.self,
      MultiHeadAttention.self, Attention.self, AdditiveAttention.self, EinsumDense.self,
      IntegerLookupLayer.self, Identity.self)
  }
}
