// urne — the page's words, French first, English as a switch.
//
// Owns: every sentence the page shows, per language; the choice of language (kept in
// this browser); number and time formatting. `data-i18n="key"` on an element sets its
// text, `data-i18n-attr="attr:key"` one of its attributes.

const STRINGS = {
  fr: {
    "skip": "Aller au contenu",
    "tagline": "registre public de l'élection",
    "nav": "Pages",
    "tab.verifier": "Vérifier mon bulletin",
    "tab.identifiant": "Mon identifiant",
    "tab.tableau": "Tableau de bord",
    "tab.confiance": "Clés de confiance",
    "busy": "Vérification en cours…",
    "steps.label": "Vérifications faites par votre navigateur",
    "footer": "Toutes les vérifications sont faites par votre navigateur (SHA-256 et Ed25519, WebCrypto) : la page ne croit pas le serveur sur parole.",

    "verify.title": "Vérifier mon bulletin",
    "verify.intro": "Collez le code de reçu remis après votre vote. Votre navigateur vérifie lui-même que le bulletin est inscrit au registre public, dans un point de contrôle signé par le registre et contresigné par des témoins indépendants.",
    "verify.label": "Code de reçu",
    "verify.help": "64 caractères de 0 à 9 et de a à f. Le code ne quitte pas cette page, sauf pour interroger le registre.",
    "verify.button": "Vérifier",
    "verify.invalid.title": "Ce n'est pas un code de reçu",
    "verify.invalid.text": "Un code de reçu compte exactement 64 caractères de 0 à 9 et de a à f. Vérifiez la copie.",
    "verify.not_found.title": "Ce reçu n'est pas dans le registre",
    "verify.not_found.text": "Le registre ne contient aucun bulletin portant le reçu {code}. Si vous avez voté et reçu ce code, signalez-le au bureau de vote et à votre organisation syndicale.",
    "verify.failed.title": "La vérification a échoué",
    "verify.ok.title": "Votre bulletin est enregistré",
    "verify.ok.sentence": "Enregistré à la position {index} du registre ({scrutin}, {time}), dans le point de contrôle de taille {size} signé par le registre et {k} témoin(s).",
    "verify.pending.title": "Enregistré, en attente des témoins",
    "verify.pending.sentence": "Enregistré à la position {index} du registre ({scrutin}, {time}), dans le point de contrôle de taille {size} signé par le registre ; les témoins ne l'ont pas encore contresigné ({k}). Réessayez dans quelques secondes.",
    "verify.inconsistent.title": "Registre incohérent : alerte",
    "verify.download": "Télécharger la preuve hors ligne",
    "verify.download.help": "(format C2SP tlog-proof : vérifiable plus tard, sans le registre)",

    "step.log_signature": "Point de contrôle {origin} de taille {size} : signature du registre valide.",
    "step.witnesses": "Contresigné par {n} témoin(s) ({names}) ; {required} requis.",
    "step.witnesses_missing": "Contresigné par {n} témoin(s) ({names}) ; {required} requis : pas encore atteint.",
    "step.no_witness_needed": "Aucun témoin requis par vos clés de confiance.",
    "step.inclusion": "Preuve d'inclusion de l'entrée {index} vérifiée ({n} empreintes).",
    "step.ballot": "L'entrée est un bulletin portant ce reçu (élection {election}, scrutin {scrutin}).",
    "step.superseded": "Vous avez revoté : votre bulletin suivant (entrée {index}, du {time}) remplace celui-ci, qui reste dans le journal sans être compté. Si vous n'avez pas revoté, prévenez le bureau de vote.",
    "verify.superseded.title": "Ce bulletin a été remplacé par un vote ultérieur",
    "step.history_proofs": "{n} entrée(s), chacune avec sa preuve d'inclusion vérifiée, signée par l'autorité compétente de l'élection et bien liée à cet identifiant.",
    "step.authority": "Signé par {role} ({name}), clé nommée par l'élection scellée à la position {index} (preuve vérifiée).",
    "role.platform": "la plateforme de vote",
    "role.registrar": "le gestionnaire des identifiants",
    "role.board": "le bureau de vote",

    "seen.first": "Premier point de contrôle vu par ce navigateur : il est mémorisé pour la prochaine visite.",
    "seen.same": "Identique au point de contrôle vu le {at}.",
    "seen.consistent": "Cohérent avec le point de contrôle de taille {size} vu le {at} (preuve de cohérence vérifiée) : rien n'a été effacé ni réécrit.",
    "seen.unverified": "La cohérence avec le point de contrôle vu précédemment n'a pas pu être vérifiée (réseau).",
    "seen.fork_same_size": "ALERTE : le registre montre une autre racine pour la taille {size} vue le {at}. Deux historiques différents : le registre a été réécrit ou montre des versions différentes.",
    "seen.rollback": "ALERTE : le registre a moins d'entrées que les {size} vues le {at} : il a été remis en arrière.",
    "seen.bad_consistency_proof": "ALERTE : la preuve de cohérence avec le point de contrôle de taille {size} vu le {at} est fausse : l'historique a été modifié.",

    "details.checkpoint": "Point de contrôle signé (taille {size})",
    "details.cosigned": "Contresigné par {name} le {at}",

    "history.title": "Mon identifiant",
    "history.intro": "Saisissez l'étiquette d'électeur que l'organisme vous a remise. Vous verrez chaque identifiant de vote émis, réémis ou révoqué à votre nom et chaque bulletin déposé avec, avec l'heure et le canal.",
    "history.label": "Étiquette d'électeur",
    "history.help": "64 caractères de 0 à 9 et de a à f. Elle ne révèle pas votre identité ; ne la partagez qu'avec votre organisation syndicale.",
    "history.button": "Afficher l'historique",
    "history.invalid.title": "Ce n'est pas une étiquette d'électeur",
    "history.invalid.text": "Une étiquette compte exactement 64 caractères de 0 à 9 et de a à f.",
    "history.failed.title": "La vérification de l'historique a échoué",
    "history.empty.title": "Aucune entrée pour cette étiquette",
    "history.empty.text": "Le registre ne contient aucun identifiant émis pour cette étiquette. Vérifiez la copie ; si elle est juste, aucun identifiant n'a été émis à votre nom.",
    "history.ok.title": "Historique vérifié",
    "history.warn.title": "Historique vérifié : à examiner",
    "history.sentence": "{credentials} identifiant(s) émis et {ballots} bulletin(s) déposé(s), tous prouvés dans le point de contrôle de taille {size} signé par le registre et {k} témoin(s).",
    "history.warnings": "À examiner",
    "history.warn.helpdesk": "Le {time}, un nouvel identifiant a été émis par l'assistance ({channel}, motif : {reason}). Si vous ne l'avez pas demandé, quelqu'un a pu l'obtenir à votre place.",
    "history.warn.reissue": "Le {time}, un nouvel identifiant a été émis ({channel}, motif : {reason}) ; l'ancien ne vaut plus.",
    "history.warn.vote_after_reissue": "Un bulletin a été déposé {minutes} min après cette réémission ({time}, scrutin {scrutin}). Si ce n'est pas vous, quelqu'un a peut-être voté à votre place.",
    "history.warn.advice": "Si vous n'êtes pas à l'origine de ces évènements, signalez-le sans attendre au bureau de vote électronique et à votre organisation syndicale, avec cette page.",
    "history.table.title": "Évènements",
    "history.table.caption": "Évènements du registre concernant cette étiquette, du plus ancien au plus récent",
    "history.completeness": "Le serveur choisit les entrées qu'il liste ; chacune est prouvée, mais seule une surveillance complète du registre (urne-client monitor) garantit qu'aucune n'a été omise.",
    "col.time": "Heure",
    "col.event": "Évènement",
    "col.detail": "Détail",
    "col.index": "Position",
    "col.credential": "Identifiant",
    "col.hour": "Heure",
    "event.credential": "Identifiant émis",
    "event.reissue": "Identifiant réémis",
    "event.revoke": "Identifiant révoqué",
    "event.ballot": "Bulletin déposé",
    "event.ballot.detail": "scrutin {scrutin}",

    "channel.mail": "courriel",
    "channel.postal": "courrier postal",
    "channel.sms": "SMS",
    "channel.helpdesk": "assistance téléphonique",
    "channel.in-person": "en personne",
    "channel.batch": "envoi groupé",
    "reason.initial": "envoi initial",
    "reason.reissue-lost": "identifiant perdu",
    "reason.reissue-leak": "fuite d'identifiants",
    "reason.reissue-helpdesk": "demande à l'assistance",

    "dashboard.title": "Tableau de bord",
    "dashboard.intro": "L'état public de chaque élection, mis à jour en direct : taille du registre, dernier point de contrôle et ses témoins, suspensions, bulletins et réémissions d'identifiants par heure.",
    "dashboard.failed.title": "Le tableau de bord n'a pas pu être vérifié",
    "dashboard.log": "Registre",
    "dashboard.tree_size": "Entrées",
    "dashboard.checkpoint_size": "Point de contrôle contresigné",
    "dashboard.witnesses": "Témoins / requis",
    "dashboard.alerts": "Alertes",
    "dashboard.no_alert": "Aucune alerte.",
    "dashboard.gossip": "Les preuves de double jeu (équivocation) trouvées par les échanges entre miroirs et témoins sont vérifiées ici avec la clé du registre.",
    "dashboard.no_gossip": "Ce serveur ne publie pas d'échanges de points de contrôle ; consultez un miroir ou un témoin pour les preuves d'équivocation.",
    "dashboard.stats_note": "Les décomptes et graphiques viennent des statistiques du registre ; le point de contrôle est vérifié ici, les décomptes le sont par les outils de surveillance des organisations syndicales.",
    "dashboard.no_election": "Aucune élection dans ce registre.",
    "phase.sealed": "scellée, pas encore ouverte",
    "phase.open": "ouverte",
    "phase.suspended": "suspendue",
    "phase.closed": "close",
    "phase.void": "annulée",
    "count.ballots": "Bulletins",
    "count.credentials": "Identifiants émis",
    "count.reissues": "Réémissions",
    "count.revocations": "Révocations",
    "count.suspensions": "Suspensions",
    "count.interventions": "Interventions",
    "chart.ballots": "Bulletins par heure",
    "chart.ballots.desc": "Les zones rouges sont les périodes de suspension du vote.",
    "chart.reissues": "Réémissions d'identifiants par heure, par canal",
    "chart.reissues.desc": "Une vague de réémissions, surtout par l'assistance, est le signe d'un incident à examiner.",
    "chart.no_reissue": "Aucune réémission.",
    "chart.data": "Voir les données",
    "chart.unavailable": "Graphique indisponible.",
    "timeline.title": "Chronologie",
    "kind.election": "Élection scellée",
    "kind.open": "Ouverture du vote",
    "kind.suspend": "Suspension",
    "kind.resume": "Reprise",
    "kind.close": "Clôture",
    "kind.results": "Résultats",
    "kind.void": "Élection annulée",
    "kind.intervention": "Intervention",
    "alert.equivocation": "ÉQUIVOCATION prouvée ({reason}) : deux points de contrôle signés par le registre ne peuvent pas être vrais tous les deux (source : {source}).",
    "alert.bad_evidence": "Une preuve d'équivocation publiée ne se vérifie pas (source : {source}).",
    "alert.evidence": "Les deux points de contrôle signés",
    "alert.witness_down": "Le témoin {name} ne répond pas : {error}",
    "alert.quorum": "Le dernier point de contrôle n'a que {n} contresignature(s) sur {required} requises.",
    "alert.burst": "{election} : {n} réémissions d'identifiants dans l'heure du {hour}.",
    "alert.suspension": "{election} : vote suspendu du {from} au {to} ({reason}).",
    "alert.suspended_now": "{election} : vote suspendu depuis le {from} ({reason}).",

    "trust.title": "Clés de confiance",
    "trust.intro": "Pour vérifier, votre navigateur a besoin de la clé publique du registre et de celles des témoins. Par défaut, il garde celles annoncées par le serveur lors de votre première visite. Mieux : chargez le fichier de politique (C2SP tlog-policy) que votre organisation syndicale publie.",
    "trust.policy.label": "Fichier de politique (tlog-policy)",
    "trust.policy.help": "Lignes « log », « witness », « group » et « quorum ».",
    "trust.policy.button": "Utiliser cette politique",
    "trust.policy.ok": "Politique enregistrée dans ce navigateur.",
    "trust.policy.bad": "Politique refusée",
    "trust.reset": "Tout oublier (clés et points de contrôle mémorisés)",
    "trust.reset.done": "Ce navigateur a tout oublié.",
    "trust.failed": "Impossible de lire les clés",
    "trust.source": "Origine des clés",
    "trust.source.server": "annoncées par ce serveur, mémorisées le {since} (confiance à la première visite)",
    "trust.source.policy": "politique chargée le {since}",
    "trust.log_key": "Clé du registre",
    "trust.witnesses": "Témoins",
    "trust.no_witness": "aucun",
    "trust.quorum": "Contresignatures requises",
    "trust.seen": "Dernier point de contrôle vu",
    "trust.seen.value": "taille {size}, le {at}",
    "trust.evidence": "Preuve d'incohérence conservée (le {at}) : les deux points de contrôle",
    "trust.changed.title": "La clé du registre a changé",
    "trust.changed.text": "Le serveur annonce une autre clé ({key}) que celle mémorisée. Rien n'est vérifié avec la nouvelle clé : signalez-le à votre organisation syndicale.",

    "err.network": "Le registre ne répond pas (réseau). Réessayez plus tard.",
    "err.server_error": "Le registre a répondu par une erreur (HTTP {status}).",
    "err.malformed": "La réponse du registre est mal formée : elle ne peut pas être vérifiée.",
    "err.bad_key": "Une clé de confiance est mal formée.",
    "err.no_ed25519": "Ce navigateur ne sait pas vérifier les signatures Ed25519 ; utilisez une version récente de Firefox, Chrome, Edge ou Safari.",
    "err.wrong_origin": "Le point de contrôle est celui d'un autre registre ({origin}).",
    "err.no_log_signature": "Le point de contrôle n'est pas signé par la clé du registre.",
    "err.bad_signature": "Une signature du registre est fausse.",
    "err.bad_cosignature": "Une contresignature de témoin est fausse.",
    "err.bad_inclusion_proof": "La preuve d'inclusion de l'entrée {index} ne mène pas à la racine signée : le registre ne prouve pas que cette entrée y figure.",
    "err.wrong_entry": "L'entrée {index} n'est pas un bulletin portant ce reçu.",
    "err.bad_superseded": "Le journal dit qu'un bulletin ultérieur remplace celui-ci, mais il ne le prouve pas : prévenez le bureau de vote.",
    "err.foreign_entry": "Le serveur a listé une entrée ({index}) qui ne concerne pas cette étiquette.",
    "err.incomplete_history": "Le registre ne prouve pas que cette liste d'entrées est complète ({detail}) : l'historique ne peut pas être affiché comme complet.",
    "err.bad_policy": "Politique mal formée : {line}",
    "err.not_evidence": "Ce n'est pas une preuve d'équivocation.",
    "err.wrong_signer": "L'entrée ({type}) n'est pas signée par une clé de l'autorité que l'élection a désignée pour cela.",
    "err.generic": "Erreur : {detail}"
  },
  en: {
    "skip": "Skip to content",
    "tagline": "the election's public log",
    "nav": "Pages",
    "tab.verifier": "Check my receipt",
    "tab.identifiant": "My credential history",
    "tab.tableau": "Dashboard",
    "tab.confiance": "Trusted keys",
    "busy": "Verifying…",
    "steps.label": "Checks made by your browser",
    "footer": "Every check is made by your browser (SHA-256 and Ed25519, WebCrypto): the page does not take the server's word for anything.",

    "verify.title": "Check my receipt",
    "verify.intro": "Paste the receipt code you were given after voting. Your browser itself checks that the ballot is recorded in the public log, in a checkpoint signed by the log and cosigned by independent witnesses.",
    "verify.label": "Receipt code",
    "verify.help": "64 characters, 0 to 9 and a to f. The code leaves this page only to query the log.",
    "verify.button": "Check",
    "verify.invalid.title": "This is not a receipt code",
    "verify.invalid.text": "A receipt code has exactly 64 characters, 0 to 9 and a to f. Check your copy.",
    "verify.not_found.title": "This receipt is not in the log",
    "verify.not_found.text": "The log holds no ballot with receipt {code}. If you voted and were given this code, report it to the electoral board and to your union.",
    "verify.failed.title": "Verification failed",
    "verify.ok.title": "Your ballot is recorded",
    "verify.ok.sentence": "Recorded at position {index} of the log ({scrutin}, {time}), in the checkpoint of size {size} signed by the log and {k} witness(es).",
    "verify.pending.title": "Recorded, waiting for the witnesses",
    "verify.pending.sentence": "Recorded at position {index} of the log ({scrutin}, {time}), in the checkpoint of size {size} signed by the log; the witnesses have not cosigned it yet ({k}). Try again in a few seconds.",
    "verify.inconsistent.title": "Inconsistent log: alert",
    "verify.download": "Download the offline proof",
    "verify.download.help": "(C2SP tlog-proof: can be checked later, without the log)",

    "step.log_signature": "Checkpoint {origin} of size {size}: the log's signature is valid.",
    "step.witnesses": "Cosigned by {n} witness(es) ({names}); {required} required.",
    "step.witnesses_missing": "Cosigned by {n} witness(es) ({names}); {required} required: not reached yet.",
    "step.no_witness_needed": "Your trusted keys require no witness.",
    "step.inclusion": "Inclusion proof of entry {index} verified ({n} hashes).",
    "step.ballot": "The entry is a ballot carrying this receipt (election {election}, scrutin {scrutin}).",
    "step.superseded": "You voted again: your next ballot (entry {index}, of {time}) replaces this one, which stays in the log, not counted. If you did not vote again, tell the electoral board.",
    "verify.superseded.title": "This ballot was replaced by a later vote",
    "step.history_proofs": "{n} entries, each with its inclusion proof verified, signed by the election's competent authority and tied to this tag.",
    "step.authority": "Signed by {role} ({name}), a key named by the election sealed at position {index} (proof verified).",
    "role.platform": "the voting platform",
    "role.registrar": "the credential registrar",
    "role.board": "the electoral board",

    "seen.first": "First checkpoint this browser has seen: remembered for your next visit.",
    "seen.same": "Identical to the checkpoint seen on {at}.",
    "seen.consistent": "Consistent with the checkpoint of size {size} seen on {at} (consistency proof verified): nothing was erased or rewritten.",
    "seen.unverified": "Consistency with the checkpoint seen before could not be checked (network).",
    "seen.fork_same_size": "ALERT: the log shows another root for size {size} seen on {at}. Two different histories: the log was rewritten or shows different versions.",
    "seen.rollback": "ALERT: the log has fewer entries than the {size} seen on {at}: it was rolled back.",
    "seen.bad_consistency_proof": "ALERT: the consistency proof with the checkpoint of size {size} seen on {at} is false: the history was changed.",

    "details.checkpoint": "Signed checkpoint (size {size})",
    "details.cosigned": "Cosigned by {name} on {at}",

    "history.title": "My credential history",
    "history.intro": "Enter the voter tag you were given. You will see every voting credential issued, reissued or revoked in your name and every ballot cast with it, with time and channel.",
    "history.label": "Voter tag",
    "history.help": "64 characters, 0 to 9 and a to f. It does not reveal who you are; share it only with your union.",
    "history.button": "Show the history",
    "history.invalid.title": "This is not a voter tag",
    "history.invalid.text": "A voter tag has exactly 64 characters, 0 to 9 and a to f.",
    "history.failed.title": "Verification of the history failed",
    "history.empty.title": "No entry for this tag",
    "history.empty.text": "The log holds no credential issued for this tag. Check your copy; if it is right, no credential was issued in your name.",
    "history.ok.title": "History verified",
    "history.warn.title": "History verified: please review",
    "history.sentence": "{credentials} credential(s) issued and {ballots} ballot(s) cast, all proved in the checkpoint of size {size} signed by the log and {k} witness(es).",
    "history.warnings": "Please review",
    "history.warn.helpdesk": "On {time}, a new credential was issued by the helpdesk ({channel}, reason: {reason}). If you did not ask for it, someone may have obtained it in your place.",
    "history.warn.reissue": "On {time}, a new credential was issued ({channel}, reason: {reason}); the old one no longer works.",
    "history.warn.vote_after_reissue": "A ballot was cast {minutes} min after that reissue ({time}, scrutin {scrutin}). If it was not you, someone may have voted in your place.",
    "history.warn.advice": "If you did not do this, report it at once to the electoral board and to your union, with this page.",
    "history.table.title": "Events",
    "history.table.caption": "Log events about this tag, oldest first",
    "history.completeness": "The server chooses which entries it lists; each one is proved, but only a full monitor of the log (urne-client monitor) guarantees none was left out.",
    "col.time": "Time",
    "col.event": "Event",
    "col.detail": "Detail",
    "col.index": "Position",
    "col.credential": "Credential",
    "col.hour": "Hour",
    "event.credential": "Credential issued",
    "event.reissue": "Credential reissued",
    "event.revoke": "Credential revoked",
    "event.ballot": "Ballot cast",
    "event.ballot.detail": "scrutin {scrutin}",

    "channel.mail": "e-mail",
    "channel.postal": "post",
    "channel.sms": "SMS",
    "channel.helpdesk": "helpdesk (phone)",
    "channel.in-person": "in person",
    "channel.batch": "batch",
    "reason.initial": "initial issue",
    "reason.reissue-lost": "credential lost",
    "reason.reissue-leak": "credential leak",
    "reason.reissue-helpdesk": "helpdesk request",

    "dashboard.title": "Dashboard",
    "dashboard.intro": "The public state of every election, live: log size, latest checkpoint and its witnesses, suspensions, ballots and credential reissues per hour.",
    "dashboard.failed.title": "The dashboard could not be verified",
    "dashboard.log": "Log",
    "dashboard.tree_size": "Entries",
    "dashboard.checkpoint_size": "Cosigned checkpoint",
    "dashboard.witnesses": "Witnesses / required",
    "dashboard.alerts": "Alerts",
    "dashboard.no_alert": "No alert.",
    "dashboard.gossip": "Equivocation evidence found by gossip between mirrors and witnesses is verified here with the log key.",
    "dashboard.no_gossip": "This server does not publish checkpoint gossip; ask a mirror or a witness for equivocation evidence.",
    "dashboard.stats_note": "Counts and charts come from the log's statistics; the checkpoint is verified here, the counts by the unions' monitors.",
    "dashboard.no_election": "No election in this log.",
    "phase.sealed": "sealed, not open yet",
    "phase.open": "open",
    "phase.suspended": "suspended",
    "phase.closed": "closed",
    "phase.void": "void",
    "count.ballots": "Ballots",
    "count.credentials": "Credentials issued",
    "count.reissues": "Reissues",
    "count.revocations": "Revocations",
    "count.suspensions": "Suspensions",
    "count.interventions": "Interventions",
    "chart.ballots": "Ballots per hour",
    "chart.ballots.desc": "Red areas are the periods when voting was suspended.",
    "chart.reissues": "Credential reissues per hour, by channel",
    "chart.reissues.desc": "A wave of reissues, above all through the helpdesk, is a sign of an incident to look into.",
    "chart.no_reissue": "No reissue.",
    "chart.data": "Show the data",
    "chart.unavailable": "Chart unavailable.",
    "timeline.title": "Timeline",
    "kind.election": "Election sealed",
    "kind.open": "Voting opened",
    "kind.suspend": "Suspension",
    "kind.resume": "Resumption",
    "kind.close": "Closing",
    "kind.results": "Results",
    "kind.void": "Election void",
    "kind.intervention": "Intervention",
    "alert.equivocation": "Proven EQUIVOCATION ({reason}): two checkpoints signed by the log cannot both be true (source: {source}).",
    "alert.bad_evidence": "Published equivocation evidence does not verify (source: {source}).",
    "alert.evidence": "The two signed checkpoints",
    "alert.witness_down": "Witness {name} does not answer: {error}",
    "alert.quorum": "The latest checkpoint has only {n} cosignature(s) of {required} required.",
    "alert.burst": "{election}: {n} credential reissues in the hour of {hour}.",
    "alert.suspension": "{election}: voting suspended from {from} to {to} ({reason}).",
    "alert.suspended_now": "{election}: voting suspended since {from} ({reason}).",

    "trust.title": "Trusted keys",
    "trust.intro": "To verify, your browser needs the log's public key and the witnesses'. By default it keeps those the server announced on your first visit. Better: load the policy file (C2SP tlog-policy) your union publishes.",
    "trust.policy.label": "Policy file (tlog-policy)",
    "trust.policy.help": "Lines \"log\", \"witness\", \"group\" and \"quorum\".",
    "trust.policy.button": "Use this policy",
    "trust.policy.ok": "Policy saved in this browser.",
    "trust.policy.bad": "Policy refused",
    "trust.reset": "Forget everything (keys and remembered checkpoints)",
    "trust.reset.done": "This browser forgot everything.",
    "trust.failed": "Cannot read the keys",
    "trust.source": "Where the keys come from",
    "trust.source.server": "announced by this server, remembered on {since} (trust on first use)",
    "trust.source.policy": "policy loaded on {since}",
    "trust.log_key": "Log key",
    "trust.witnesses": "Witnesses",
    "trust.no_witness": "none",
    "trust.quorum": "Cosignatures required",
    "trust.seen": "Last checkpoint seen",
    "trust.seen.value": "size {size}, on {at}",
    "trust.evidence": "Evidence of inconsistency kept (on {at}): the two checkpoints",
    "trust.changed.title": "The log key changed",
    "trust.changed.text": "The server announces another key ({key}) than the one remembered. Nothing is verified with the new key: report it to your union.",

    "err.network": "The log does not answer (network). Try again later.",
    "err.server_error": "The log answered with an error (HTTP {status}).",
    "err.malformed": "The log's answer is malformed: it cannot be verified.",
    "err.bad_key": "A trusted key is malformed.",
    "err.no_ed25519": "This browser cannot verify Ed25519 signatures; use a recent Firefox, Chrome, Edge or Safari.",
    "err.wrong_origin": "The checkpoint is another log's ({origin}).",
    "err.no_log_signature": "The checkpoint is not signed by the log's key.",
    "err.bad_signature": "A signature of the log is false.",
    "err.bad_cosignature": "A witness's cosignature is false.",
    "err.bad_inclusion_proof": "The inclusion proof of entry {index} does not lead to the signed root: the log does not prove this entry is in it.",
    "err.wrong_entry": "Entry {index} is not a ballot carrying this receipt.",
    "err.bad_superseded": "The log says a later ballot replaces this one, but does not prove it: tell the electoral board.",
    "err.foreign_entry": "The server listed an entry ({index}) that is not about this tag.",
    "err.incomplete_history": "The log does not prove this list of entries is complete ({detail}): the history cannot be shown as complete.",
    "err.bad_policy": "Malformed policy: {line}",
    "err.not_evidence": "This is not equivocation evidence.",
    "err.wrong_signer": "The entry ({type}) is not signed by a key of the authority the election named for it.",
    "err.generic": "Error: {detail}"
  },
};

const LANG_KEY = "urne.lang";
let current = "fr";
try {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "fr") current = saved;
} catch {
  // No storage: French.
}

/** The current language, `fr` or `en`. */
export const lang = () => current;

/** Switches language and remembers the choice in this browser. */
export function setLang(l) {
  current = l === "en" ? "en" : "fr";
  try {
    localStorage.setItem(LANG_KEY, current);
  } catch {
    // Not remembered.
  }
}

/** Translates `key`, replacing `{name}` by `params.name`; returns the key if unknown. */
export function t(key, params = {}) {
  const s = STRINGS[current][key] ?? STRINGS.fr[key];
  if (s === undefined) return key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined ? m : String(params[k])));
}

/** Formats a number the local way (BigInt and decimal strings too). */
export function formatNumber(n) {
  try {
    return new Intl.NumberFormat(current === "fr" ? "fr-FR" : "en-GB").format(typeof n === "string" ? BigInt(n) : n);
  } catch {
    return String(n);
  }
}

/** Formats an RFC 3339 time or a Date in the browser's time zone. */
export function formatTime(x) {
  const d = x instanceof Date ? x : new Date(x);
  if (Number.isNaN(d.getTime())) return String(x);
  return new Intl.DateTimeFormat(current === "fr" ? "fr-FR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "medium",
  }).format(d);
}

/** Applies the language to the static parts of the page. */
export function applyStatic() {
  document.documentElement.lang = current;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of e.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      e.setAttribute(attr, t(key));
    }
  }
}

/** Every key of every language (for the tests: both languages say everything). */
export const KEYS = { fr: Object.keys(STRINGS.fr), en: Object.keys(STRINGS.en) };
