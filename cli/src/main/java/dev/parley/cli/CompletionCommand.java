package dev.parley.cli;

import dev.parley.cli.deploy.DeployCommand;
import dev.parley.cli.validate.ValidateCommand;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code parley completion}: a bash completion script for {@code parley}, generated from the same command line
 * definitions that parse the commands, so it completes every command and every option of validate and deploy.
 * The commands bin/parley runs itself (serve, aot, image) are completed by name.
 */
@Command(name = "completion", header = "print a bash completion script for parley: source <(bin/parley completion)",
        description = {"", "Completes the commands, and the options of validate and deploy, for a parley on PATH "
            + "(a symbolic link to bin/parley will do)."})
final class CompletionCommand implements Callable<Integer> {
    @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "show this text")
    boolean help;

    @Spec
    CommandSpec spec;

    private final Cli cli;

    CompletionCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        CommandLine parley = new CommandLine(CommandSpec.create().name("parley"));
        for (String name : new String[] {"serve", "aot", "image"}) {
            parley.addSubcommand(name, CommandSpec.create());
        }
        parley.addSubcommand("validate", ValidateCommand.commandLine(cli))
                .addSubcommand("deploy", DeployCommand.commandLine(cli))
                .addSubcommand("help", new CommandLine.HelpCommand())
                .addSubcommand("completion", CommandSpec.create());
        spec.commandLine().getOut().print(AutoComplete.bash("parley", parley));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
