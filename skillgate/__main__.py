from skillgate.cli import main

main()
