import Strata
import StrataCommandLine

// The `strata` command: everything it does lives in StrataCommandLine, where tests run it in-process.
restartWithShortOpenMPSpinning()
StrataCommand.main()
