package dev.parley.server;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of docs/architecture.md, checked on the compiled server: which package may use which, no cycles
 * between packages, Helidon only at the edge, JDBC only where rows are stored. A new package must be given its place
 * here before its classes compile into the server.
 */
class LayeringTest {
    private static final String ROOT = "dev.parley.server";
    private static JavaClasses server;

    @BeforeAll
    static void importServer() {
        server = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
    }

    @Test
    void everyPackageHasItsPlaceInTheLayers() {
        classes().should().resideInAnyPackage(ROOT, ROOT + ".gateway..", ROOT + ".run..", ROOT + ".agent..",
                        ROOT + ".auth..", ROOT + ".conversation..", ROOT + ".budget..", ROOT + ".usage..",
                        ROOT + ".fanout..", ROOT + ".mcp..",
                        ROOT + ".db..", ROOT + ".redis..", ROOT + ".health..", ROOT + ".observe..",
                        ROOT + ".config..", ROOT + ".logging..", ROOT + ".failure..")
                .because("every package is placed in the layering below (docs/architecture.md)")
                .check(server);
    }

    @Test
    void eachLayerUsesOnlyTheLayersBelowIt() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("Composition").definedBy(ROOT)
                .layer("Gateway").definedBy(ROOT + ".gateway..")
                .layer("Run").definedBy(ROOT + ".run..")
                .layer("Mcp").definedBy(ROOT + ".mcp..")
                .layer("Agent").definedBy(ROOT + ".agent..")
                .layer("Auth").definedBy(ROOT + ".auth..")
                .layer("Conversation").definedBy(ROOT + ".conversation..")
                .layer("Budget").definedBy(ROOT + ".budget..")
                .layer("Usage").definedBy(ROOT + ".usage..")
                .layer("Fanout").definedBy(ROOT + ".fanout..")
                .layer("Storage").definedBy(ROOT + ".db..", ROOT + ".redis..")
                .layer("Support").definedBy(ROOT + ".config..", ROOT + ".observe..", ROOT + ".health..",
                        ROOT + ".logging..", ROOT + ".failure..")
                .whereLayer("Composition").mayNotBeAccessedByAnyLayer()
                .whereLayer("Gateway").mayOnlyBeAccessedByLayers("Composition")
                .whereLayer("Run").mayOnlyBeAccessedByLayers("Gateway", "Composition")
                .whereLayer("Mcp").mayOnlyBeAccessedByLayers("Gateway", "Composition")
                .whereLayer("Agent").mayOnlyBeAccessedByLayers("Run", "Mcp", "Gateway", "Composition")
                .whereLayer("Auth").mayOnlyBeAccessedByLayers("Gateway", "Composition")
                .whereLayer("Conversation").mayOnlyBeAccessedByLayers("Run", "Gateway", "Composition")
                .whereLayer("Budget").mayOnlyBeAccessedByLayers("Agent", "Gateway", "Composition")
                .whereLayer("Usage").mayOnlyBeAccessedByLayers("Agent", "Budget", "Gateway", "Composition")
                .whereLayer("Fanout").mayOnlyBeAccessedByLayers("Run", "Gateway", "Composition")
                .whereLayer("Storage").mayOnlyBeAccessedByLayers("Run", "Mcp", "Agent", "Auth", "Conversation",
                        "Budget", "Usage", "Fanout", "Gateway", "Composition")
                .check(server);
    }

    @Test
    void noCyclesBetweenPackages() {
        slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(server);
    }

    @Test
    void onlyTheEdgeAndTheCompositionRootKnowHelidon() {
        noClasses().that().resideOutsideOfPackages(ROOT + ".gateway..", ROOT)
                .should().dependOnClassesThat().resideInAPackage("io.helidon..")
                .check(server);
    }

    @Test
    void jdbcStaysWithTheStores() {
        noClasses().that().resideInAnyPackage(ROOT + ".gateway..", ROOT + ".agent..", ROOT + ".fanout..",
                        ROOT + ".config..", ROOT + ".health..", ROOT + ".observe..", ROOT + ".failure..")
                .should().dependOnClassesThat().resideInAPackage("java.sql..")
                .check(server);
    }
}
