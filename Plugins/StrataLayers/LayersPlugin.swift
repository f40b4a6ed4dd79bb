import StrataCore

/// Registers the built-in layers under their Keras class names.
public enum LayersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(InputLayer.self, aliases: ["Input"])
    try registrar.register(Dense.self)
    try registrar.register(Flatten.self)
    try registrar.register(Reshape.self)
    try registrar.register(Dropout.self)
    try registrar.register(ActivationLayer.self)
    try registrar.register(Conv2D.self, aliases: ["Convolution2D"])
    try registrar.register(MaxPooling2D.self, aliases: ["MaxPool2D"])
    try registrar.register(AveragePooling2D.self, aliases: ["AvgPool2D"])
    try registrar.register(GlobalAveragePooling2D.self, aliases: ["GlobalAvgPool2D"])
    try registrar.register(GlobalMaxPooling2D.self, aliases: ["GlobalMaxPool2D"])
    try registrar.register(BatchNormalization.self)
    try registrar.register(ZeroPadding2D.self)
    try registrar.register(Rescaling.self)
    try registrar.register(Resizing.self)
    try registrar.register(CenterCrop.self)
    try registrar.register(RandomFlip.self)
    try registrar.register(RandomCrop.self)
    try registrar.register(RandomBrightness.self)
    try registrar.register(RandomContrast.self)
    try registrar.register(Add.self)
    try registrar.register(Subtract.self)
    try registrar.register(Multiply.self)
    try registrar.register(Average.self)
    try registrar.register(Maximum.self)
    try registrar.register(Minimum.self)
    try registrar.register(Concatenate.self)
    try registrar.register(MaxNorm.self, aliases: ["max_norm"])
    try registrar.register(UnitNorm.self, aliases: ["unit_norm"])
    try registrar.register(MinMaxNorm.self, aliases: ["min_max_norm"])
    try registrar.register(NonNeg.self, aliases: ["non_neg"])
    try registrar.register(L1.self, aliases: ["l1"])
    try registrar.register(L2.self, aliases: ["l2"])
    try registrar.register(L1L2.self, aliases: ["l1l2"])
  }
}
