from callhook.cli.main import main

raise SystemExit(main())
