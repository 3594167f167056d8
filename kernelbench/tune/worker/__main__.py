"""``python -m kernelbench.tune.worker FD``: one sweep worker process (see ``kernelbench.tune.worker``)."""

import sys

from kernelbench.tune.worker.entry import main

if __name__ == "__main__":
    main(int(sys.argv[1]))
