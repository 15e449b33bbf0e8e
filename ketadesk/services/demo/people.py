"""Invented people for the demo clinic: staff, patient name lists and San Diego addresses.

Every name, address and phone number here is made up; phone numbers use the 555-01xx range that
is reserved for fiction, e-mail addresses the reserved ``example.com`` / ``.example`` domains.
"""

from __future__ import annotations

from typing import NamedTuple


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


class StaffPerson(NamedTuple):
    first: str
    last: str
    credentials: str


# In the order they are hired: the demo takes as many of each role as the clinic's size needs.
STAFF: dict[str, tuple[StaffPerson, ...]] = {
    "nurse": (
        StaffPerson("Maria", "Reyes", "RN"),
        StaffPerson("Kevin", "Tran", "RN"),
        StaffPerson("Danielle", "Brooks", "RN"),
        StaffPerson("Luis", "Ortega", "RN"),
        StaffPerson("Hannah", "Kim", "RN"),
        StaffPerson("Marcus", "Webb", "RN"),
        StaffPerson("Priya", "Natarajan", "RN"),
        StaffPerson("Colleen", "O'Brien", "RN"),
        StaffPerson("Tomas", "Herrera", "RN"),
        StaffPerson("Jasmine", "Pham", "RN"),
        StaffPerson("Aaron", "Fischer", "RN"),
        StaffPerson("Lena", "Abboud", "RN"),
    ),
    "prescriber": (
        StaffPerson("Elena", "Vasquez", "MD"),
        StaffPerson("Jonathan", "Park", "PMHNP-BC"),
        StaffPerson("Samuel", "Adeyemi", "MD"),
        StaffPerson("Rachel", "Goldberg", "DO"),
        StaffPerson("Mei", "Lin", "PMHNP-BC"),
        StaffPerson("David", "Castillo", "MD"),
    ),
    "therapist": (
        StaffPerson("Sarah", "Whitfield", "LMFT"),
        StaffPerson("Andre", "Mitchell", "PsyD"),
        StaffPerson("Naomi", "Feldman", "LCSW"),
        StaffPerson("Gabriel", "Soto", "LMFT"),
        StaffPerson("Ivy", "Nakamura", "PhD"),
        StaffPerson("Rosa", "Delgado", "LCSW"),
        StaffPerson("Owen", "Gallagher", "LPCC"),
        StaffPerson("Farah", "Haddad", "PsyD"),
    ),
    "front_desk": (
        StaffPerson("Tiffany", "Nguyen", ""),
        StaffPerson("Carlos", "Mendoza", ""),
        StaffPerson("Brianna", "Cole", ""),
        StaffPerson("Victor", "Salazar", ""),
        StaffPerson("Megan", "Lowe", ""),
    ),
}

FIRST_NAMES = _words(
    """
    James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard
    Susan Joseph Jessica Thomas Sarah Christopher Karen Daniel Lisa Matthew Nancy Anthony Sandra
    Mark Ashley Steven Emily Andrew Michelle Joshua Amanda Kenneth Melissa Kevin Stephanie Brian
    Rebecca Timothy Laura Ryan Cynthia Jacob Amy Gary Angela Nicholas Shirley Eric Brenda Jonathan
    Emma Stephen Anna Larry Nicole Justin Samantha Scott Katherine Brandon Christine Benjamin
    Rachel Samuel Carolyn Gregory Janet Alexander Maria Patrick Heather Jack Diane Dennis Julie
    Jerry Joyce Tyler Victoria Aaron Kelly Jose Christina Adam Lauren Nathan Joan Henry Evelyn
    Zachary Olivia Douglas Judith Peter Megan Kyle Andrea Noah Cheryl Ethan Hannah Jeremy
    Jacqueline Walter Martha Christian Madison Keith Teresa Roger Gloria Terry Sara Austin Janice
    Sean Ann Gerald Kathryn Carl Abigail Harold Sophia Dylan Frances Arthur Jean Lawrence Alice
    Jordan Judy Jesse Isabella Bryan Julia Billy Grace Bruce Amber Gabriel Denise Joe Danielle
    Logan Marilyn Alan Beverly Juan Charlotte Wayne Natalie Elijah Theresa Randy Diana Roy
    Brittany Vincent Doris Ralph Kayla Eugene Alexis Russell Lori Bobby Marie Mason Luis Carlos
    Miguel Alejandro Sofia Valentina Camila Mateo Diego Lucia Ximena Javier Guadalupe Rosa Minh
    Linh Hiro Yuki Mei Wei Jin Soo-ah Ji-ho Arjun Priya Ananya Rohan Fatima Omar Layla Yusuf Nia
    Malik Imani Darnell Kiara Tariq Leilani Kai Noelani Mateus Ines Thiago
    """
)

LAST_NAMES = _words(
    """
    Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips
    Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
    Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson
    Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
    Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell
    Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson
    Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera
    Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
    McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns
    Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt
    Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice
    Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn
    Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Nakamura
    Tanaka Yamamoto Wong Huang Liu Zhang Park Choi Le Pham Vu Shah Singh Kapoor Haddad Khalil
    Abboud Okafor Mensah Kahale Akana Fonoti Tuiasosopo Lindqvist Novak Kowalski Rossi Moretti
    Dubois O'Connor MacLeod Esposito Schwartz Goldstein Cohen
    """
)

STREETS = (
    "Adams Ave",
    "University Ave",
    "El Cajon Blvd",
    "Garnet Ave",
    "Grand Ave",
    "Mission Blvd",
    "Voltaire St",
    "Sunset Cliffs Blvd",
    "Morena Blvd",
    "Genesee Ave",
    "Clairemont Dr",
    "Balboa Ave",
    "Friars Rd",
    "Park Blvd",
    "30th St",
    "Fern St",
    "Juniper St",
    "Kettner Blvd",
    "India St",
    "Washington St",
    "Linda Vista Rd",
    "Ulric St",
    "Convoy St",
    "Mira Mesa Blvd",
    "Carmel Mountain Rd",
    "Rancho Bernardo Rd",
    "Del Mar Heights Rd",
    "Camino del Mar",
    "Coast Blvd",
    "Prospect St",
    "Girard Ave",
    "La Jolla Blvd",
    "Imperial Ave",
    "Market St",
    "Euclid Ave",
    "Palm Ave",
    "Coronado Ave",
    "Orange Ave",
    "Third Ave",
    "Broadway",
)

#: San Diego County's area codes, the overlay of each first: where a patient's number goes when
#: the 100 fictional numbers (555-0100 to 555-0199) of their own area code are taken.
AREA_CODES = ("619", "858", "760", "442", "935")
OVERLAYS = {"619": "935", "858": "935", "760": "442"}

# (city, ZIP code, telephone area code)
PLACES = (
    ("San Diego", "92103", "619"),
    ("San Diego", "92104", "619"),
    ("San Diego", "92116", "619"),
    ("San Diego", "92107", "619"),
    ("San Diego", "92109", "858"),
    ("San Diego", "92117", "858"),
    ("San Diego", "92122", "858"),
    ("San Diego", "92126", "858"),
    ("La Jolla", "92037", "858"),
    ("Chula Vista", "91910", "619"),
    ("National City", "91950", "619"),
    ("La Mesa", "91942", "619"),
    ("El Cajon", "92020", "619"),
    ("Coronado", "92118", "619"),
    ("Escondido", "92025", "760"),
    ("Oceanside", "92054", "760"),
    ("Carlsbad", "92008", "760"),
    ("Encinitas", "92024", "760"),
    ("Poway", "92064", "858"),
    ("Santee", "92071", "619"),
)

CONTRAINDICATIONS = (
    "Controlled hypertension (lisinopril): recheck BP before dosing.",
    "Obstructive sleep apnea: uses CPAP at home.",
    "History of kidney stones.",
    "Mild asthma: albuterol inhaler on hand.",
    "Takes lamotrigine: prescriber aware.",
    "Prior nausea with ketamine: ondansetron before dosing.",
    "Glaucoma (treated): ophthalmologist cleared.",
)

PATIENT_NOTES = (
    "Prefers morning sessions.",
    "Spanish-speaking; daughter interprets when needed.",
    "Anxious about needles: numbing cream at check-in.",
    "Works nights: call after 2 pm.",
    "Likes the quiet room with the window; brings own eye mask.",
    "Veteran, referred by the VA community care program.",
    "Text reminders preferred over calls.",
    "Wheelchair user: needs the accessible recliner.",
)

CANCEL_REASONS = (
    "Patient ill (fever)",
    "No ride home available",
    "Ate breakfast: not fasted",
    "Work conflict",
    "Car trouble",
    "Family emergency",
    "Childcare fell through",
)

CALL_OUTCOMES = (
    "Reached: slept well, no lingering dizziness.",
    "Reached: mild headache overnight, resolved.",
    "Reached: mood a little brighter, no concerns.",
    "Reached: some nausea on the drive home, fine now.",
    "Reached: tired but well; confirmed next session.",
)
