// `import Strata` gives an application the core and every built-in plugin.
@_exported import StrataActivations
@_exported import StrataBLAS
@_exported import StrataCPU
@_exported import StrataCore
@_exported import StrataDNNL
@_exported import StrataInitializers
@_exported import StrataLayers
@_exported import StrataLosses
@_exported import StrataMetrics
@_exported import StrataOptimizers
@_exported import StrataSIMD
