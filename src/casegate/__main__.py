from casegate.cli.main import main

raise SystemExit(main())
