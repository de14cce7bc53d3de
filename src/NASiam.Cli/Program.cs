using NASiam.Cli;

return NasiamCli.Run(args, Console.Out, Console.Error);
